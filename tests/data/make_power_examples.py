#!/usr/bin/python3
"""Writes .npy files of initializer bugs made with numpy (not verinit), for a side-by-side run
of two verinit builds (the README's "shown on real bugs"). Each file holds He-normal weights
of a 256 x 512 layer (std 0.0625) with one defect:

  clipped.npy    every value beyond +-4.5 sigma removed (10,000,000 values)
  rows_196.npy   rows alternately at variance x1.1 and x0.9 (196 rows of 512: 100,352 values)
  rows_1953.npy  the same, 1,953 rows (999,936 values)
  radius_1000.npy, radius_10000000.npy
                 Box-Muller pairs with one radius and two independent angles: each value
                 exactly N(0, 0.0625^2), squares of neighbours correlated

Run: /usr/bin/python3 make_power_examples.py DIR, then for each file
  verinit verify --input DIR/FILE --expect he_normal --shape 256,512
"""
import os
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(7)
s = 0.0625
n = 10_000_000
x = rng.standard_normal(int(n * 1.001))
np.save(os.path.join(out, "clipped.npy"), (x[np.abs(x) <= 4.5][:n] * s).astype(np.float32))
for rows in (196, 1953):
    m = rows * 512
    scale = np.where((np.arange(m) // 512) % 2 == 0, np.sqrt(1.1), np.sqrt(0.9))
    np.save(os.path.join(out, f"rows_{rows}.npy"),
            (rng.standard_normal(m) * s * scale).astype(np.float32))
for m in (1000, 10_000_000):
    half = m // 2
    radius = np.sqrt(-2 * np.log(1 - rng.random(half)))
    x = np.empty(2 * half)
    x[0::2] = radius * np.cos(2 * np.pi * rng.random(half))
    x[1::2] = radius * np.sin(2 * np.pi * rng.random(half))
    np.save(os.path.join(out, f"radius_{m}.npy"), (x * s).astype(np.float32))
