#!/usr/bin/python3
"""The reference for verify_bench's end-to-end figure (issue 5): what PyTorch's own test suite
does to check an initializer -- kaiming_normal_ on a 10000 x 1000 tensor, then
scipy.stats.kstest against N(0, 2/fan_in) -- on the same machine.

Run with Debian's python3-torch and python3-scipy (not needed by the build or the tests):
    /usr/bin/python3 tests/bench/reference_pytorch_scipy.py
Prints the median of 5 runs of each step (torch on 2 threads) and of the whole job.
"""
import statistics
import time

import scipy.stats
import torch

torch.set_num_threads(2)
std = (2 / 1000) ** 0.5
sample, test, total = [], [], []
for seed in range(5):
    torch.manual_seed(seed)
    start = time.perf_counter()
    w = torch.empty(10000, 1000)
    torch.nn.init.kaiming_normal_(w)
    middle = time.perf_counter()
    result = scipy.stats.kstest(w.flatten().numpy(), "norm", args=(0, std))
    end = time.perf_counter()
    sample.append(middle - start)
    test.append(end - middle)
    total.append(end - start)
print(f"torch {torch.__version__} kaiming_normal_ 10^7: median {statistics.median(sample):.4f} s")
print(f"scipy {scipy.__version__} kstest 10^7: median {statistics.median(test):.3f} s"
      f" (last p = {result.pvalue:.3g})")
print(f"together: median {statistics.median(total):.3f} s")
