#!/usr/bin/python3
"""The side-by-side reference for verifying a whole bfloat16 checkpoint (issue 12):

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/model_reference.py \
        /tmp/model.safetensors 48 [RUNS]

Writes (once, if absent) a checkpoint of LAYERS tensors "layers.<i>.weight" of 2048 x 4096
bfloat16 N(0, 0.02^2) weights, each sampled by verinit with its own seed (48 layers: 4.0e8
parameters, 805 MB), and a rules file beside it. Then, RUNS times each (default 5), page cache
warm, one after the other:
  - numpy's bare read plus one 16-bit histogram per tensor (numpy.fromfile of the whole file,
    numpy.bincount of each tensor's bit patterns), in process;
  - `verinit verify --input FILE --rules RULES` as a whole process (exit 0 expected), with its
    peak RSS;
and prints the medians, with verinit's peak anonymous memory (RssAnon, polled every 5 ms: the
mapped checkpoint's pages are the page cache's, not the process's). VERINIT_CLI names the executable (default build/release/verify/cli/
verinit); extra arguments after RUNS go to it (e.g. --memory 1G). Not used by the tests.
"""
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

ROWS, COLS = 2048, 4096


def write_checkpoint(path, layers):
    import verinit

    names = [f"layers.{i}.weight" for i in range(layers)]
    size = ROWS * COLS * 2
    header = {
        name: {"dtype": "BF16", "shape": [ROWS, COLS], "data_offsets": [i * size, (i + 1) * size]}
        for i, name in enumerate(names)
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".part", "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for i in range(layers):
            bits = verinit.sample((ROWS, COLS), "normal(std=0.02)", dtype="bfloat16", seed=1000 + i)
            out.write(bits.tobytes())
    os.replace(path + ".part", path)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: model_reference.py CHECKPOINT LAYERS [RUNS] [VERINIT ARGS...]")
    path, layers = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    extra = sys.argv[4:]
    rules = path + ".rules.toml"
    if not os.path.exists(path):
        write_checkpoint(path, layers)
    with open(rules, "w") as out:
        out.write('[[rule]]\nmatch = "*.weight"\nexpect = "normal(std=0.02)"\n')
    cli = os.environ.get("VERINIT_CLI", "build/release/verify/cli/verinit")

    def numpy_reference():
        raw = np.fromfile(path, dtype=np.uint8)
        n = int.from_bytes(raw[:8].tobytes(), "little")
        header = json.loads(raw[8 : 8 + n].tobytes())
        data = raw[8 + n :]
        total = 0
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            total += int(np.bincount(data[begin:end].view(np.uint16), minlength=65536).sum())
        return total

    def run_verinit():
        """Wall seconds and peak RssAnon (MiB) of one `verinit verify` process."""
        start = time.perf_counter()
        child = subprocess.Popen([cli, "verify", "--input", path, "--rules", rules, *extra],
                                 stdout=subprocess.DEVNULL)
        peak = 0
        while child.poll() is None:
            try:
                with open(f"/proc/{child.pid}/status") as status:
                    for line in status:
                        if line.startswith("RssAnon:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            sys.exit(f"verinit exited {child.returncode}")
        return seconds, peak / 1024

    numpy_s, verinit_s, anon = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        counted = numpy_reference()
        numpy_s.append(time.perf_counter() - start)
        seconds, peak_anon = run_verinit()
        verinit_s.append(seconds)
        anon.append(peak_anon)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{layers} tensors of {ROWS}x{COLS} bfloat16 ({counted:.3g} weights), {runs} runs each:")
    print(f"  numpy fromfile + bincount per tensor (in process): median {statistics.median(numpy_s):.2f} s "
          f"(min {min(numpy_s):.2f}, max {max(numpy_s):.2f})")
    print(f"  verinit verify --rules {' '.join(extra)} (whole process): median "
          f"{statistics.median(verinit_s):.2f} s (min {min(verinit_s):.2f}, max {max(verinit_s):.2f}), "
          f"peak RSS {peak:.0f} MiB, peak anonymous {max(anon):.0f} MiB")


if __name__ == "__main__":
    main()
