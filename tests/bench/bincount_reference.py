# The side-by-side reference for verifying a bfloat16 safetensors file (issue 7): numpy reads
# the same bytes and histograms the bit patterns, in process (median of 5). Usage:
#   verinit sample --scheme he_normal --shape 10000,10000 --dtype bfloat16 --out big.safetensors
#   /usr/bin/python3 tests/bench/bincount_reference.py big.safetensors
#   /usr/bin/time verinit verify --input big.safetensors --expect he_normal
import time, sys, numpy as np, statistics
path = sys.argv[1]
ts = []
for _ in range(5):
    t = time.perf_counter()
    raw = np.fromfile(path, dtype=np.uint8)
    n = int.from_bytes(raw[:8].tobytes(), "little")
    x = raw[8 + n:].view(np.uint16)
    h = np.bincount(x, minlength=65536)
    ts.append(time.perf_counter() - t)
print("numpy fromfile+bincount (in process, median of 5): %.3f s, n = %d" % (statistics.median(ts), h.sum()))
