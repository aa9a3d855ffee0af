#!/usr/bin/python3
"""Median wall time of a whole command, for the README's whole-process figures (issue 5):

    /usr/bin/python3 tests/bench/median_wall_time.py 21 build/release/verify/cli/verinit \
        verify --scheme he_normal --shape 10000,1000 --samples 10000000

Runs the command N times (output discarded; it must exit 0) and prints the median, the
extremes and the children's peak RSS. /usr/bin/time rounds to 10 ms, too coarse here.
Not used by the build or the tests.
"""
import resource
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 3:
    sys.exit("usage: median_wall_time.py RUNS COMMAND [ARG...]")
runs = int(sys.argv[1])
command = sys.argv[2:]
seconds = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    seconds.append(time.perf_counter() - start)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"median {statistics.median(seconds) * 1e3:.1f} ms (min {min(seconds) * 1e3:.1f}, "
      f"max {max(seconds) * 1e3:.1f}, {runs} runs); peak RSS {peak_kib / 1024:.0f} MiB")
