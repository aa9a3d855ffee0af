"""PyTorch's 16-bit and float32 fills beside fill_bench's rows, on the same machine:
uniform_, normal_ and trunc_normal_(std=0.02) on 10^7 elements (10000x1000), in float32,
bfloat16 and float16, on 1 and 2 threads; the median of --repeat runs, in M weights/s.

    /usr/bin/python3 tests/bench/torch_lowp_reference.py
    build/release/tests/bench/fill_bench --benchmark_filter='Uniform|Normal' \
        --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
"""

import argparse
import statistics
import time

import torch

N = 10_000_000


def median_rate(f, repeat):
    f()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return N / statistics.median(times) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}; M weights/s, median of {args.repeat}")
    calls = {
        "uniform_": lambda w: w.uniform_(),
        "normal_": lambda w: w.normal_(),
        "trunc_normal_(std=0.02)": lambda w: torch.nn.init.trunc_normal_(w, std=0.02),
    }
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            w = torch.empty(10000, 1000, dtype=dtype)
            for name, call in calls.items():
                try:
                    rate = f"{median_rate(lambda: call(w), args.repeat):8.1f}"
                except RuntimeError as error:  # an op without a kernel for this dtype
                    rate = f"n/a ({str(error).splitlines()[0][:60]})"
                print(f"{threads} thread(s) {str(dtype):15s} {name:24s} {rate}")


if __name__ == "__main__":
    main()
