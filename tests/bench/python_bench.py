"""Side-by-side timings of the Python package against PyTorch, in one run on one machine.

    PYTHONPATH=build/release/python /usr/bin/python3 tests/bench/python_bench.py

Prints medians (of --repeat runs) for verinit.torch.init_ against torch.nn.init.kaiming_normal_
on a 4096x8192 tensor in float32 and bfloat16 (torch on all its threads, verinit with
threads=0: all cores), and the per-call time of verinit.verify and verinit.torch.init_ on a
768-weight tensor (median of --calls calls). Needs Debian's python3-torch.
"""

import argparse
import os
import statistics
import time

import torch

import verinit
import verinit.torch as vtorch


def median_seconds(f, repeat):
    f()  # warm: page faults, thread pools
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)  # torch on all threads
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; verinit "
          f"{verinit.__version__}")
    for dtype in (torch.float32, torch.bfloat16):
        w = torch.empty(4096, 8192, dtype=dtype)
        ours = median_seconds(lambda: vtorch.init_(w, "kaiming_normal"), args.repeat)
        theirs = median_seconds(lambda: torch.nn.init.kaiming_normal_(w), args.repeat)
        print(f"kaiming_normal 4096x8192 {str(dtype):15s} verinit.torch.init_ {ours * 1e3:8.1f} ms"
              f"  torch.nn.init.kaiming_normal_ {theirs * 1e3:8.1f} ms  speed-up "
              f"{theirs / ours:5.2f}x")
    small = torch.empty(24, 32)
    vtorch.init_(small, "kaiming_normal")
    for name, f in (("verify (768 weights)", lambda: verinit.verify(small, "kaiming_normal")),
                    ("init_ (768 weights)", lambda: vtorch.init_(small, "kaiming_normal"))):
        per_call = median_seconds(lambda: [f() for _ in range(100)], max(1, args.calls // 100))
        print(f"per call: {name:22s} {per_call / 100 * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
