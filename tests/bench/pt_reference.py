#!/usr/bin/python3
"""Side by side (issue 26): verifying a torch.save checkpoint costs what verifying the same
tensors from safetensors costs.

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/pt_reference.py \
        /tmp/model 48 [RUNS]

Writes (once, if absent) PREFIX.safetensors with tests/bench/model_reference.py's checkpoint
(LAYERS x 2048 x 4096 bfloat16 N(0, 0.02^2) weights, 48 layers: 4.0e8, 805 MB) and PREFIX.pt,
the same tensors saved by torch.save (torch 1.13), and the rule; then RUNS times (default 7),
page cache warm, alternating the two files, `verinit verify --input FILE --rules RULES` as a
whole process (exit 0 expected), and prints the medians and their ratio. Also times
--check-crc on the .pt. VERINIT_CLI names the executable. Not used by the tests.
"""
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_reference  # noqa: E402


def write_pt(safetensors_path, pt_path):
    import json
    import struct

    import torch

    with open(safetensors_path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = np.fromfile(f, dtype=np.uint8)
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        bits = data[begin:end].view(np.int16).reshape(entry["shape"])
        state[name] = torch.from_numpy(bits.copy()).view(torch.bfloat16)
    torch.save(state, pt_path + ".part")
    os.replace(pt_path + ".part", pt_path)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: pt_reference.py PREFIX LAYERS [RUNS]")
    prefix, layers = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    st, pt, rules = prefix + ".safetensors", prefix + ".pt", prefix + ".rules.toml"
    if not os.path.exists(st):
        model_reference.write_checkpoint(st, layers)
    if not os.path.exists(pt):
        write_pt(st, pt)
    with open(rules, "w") as out:
        out.write('[[rule]]\nmatch = "*.weight"\nexpect = "normal(std=0.02)"\n')
    cli = os.environ.get("VERINIT_CLI", "build/release/verify/cli/verinit")

    def run(path, *extra):
        start = time.perf_counter()
        done = subprocess.run([cli, "verify", "--input", path, "--rules", rules, *extra],
                              stdout=subprocess.DEVNULL)
        if done.returncode != 0:
            sys.exit(f"verinit exited {done.returncode} on {path}")
        return time.perf_counter() - start

    for path in (st, pt):  # warm the page cache
        run(path)
    times = {"safetensors": [], "pt": [], "pt --check-crc": []}
    for _ in range(runs):
        times["safetensors"].append(run(st))
        times["pt"].append(run(pt))
        times["pt --check-crc"].append(run(pt, "--check-crc"))
    base = statistics.median(times["safetensors"])
    print(f"{layers} tensors of 2048x4096 bfloat16, {runs} runs each, alternating:")
    for what, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  verinit verify {what:15s} median {median:.3f} s (min {min(seconds):.3f}, "
              f"max {max(seconds):.3f}), {median / base:.3f}x safetensors")


if __name__ == "__main__":
    main()
