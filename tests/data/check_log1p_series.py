#!/usr/bin/python3
"""The error of verify/src/anderson_darling_pieces.hpp's log1p_long_series, in ulps of the
exact log1p (mpmath at 200 bits), over 2^-14 <= y < 2^-4, for the series to y^13 and, to show
what the last term buys, to y^12; glibc's log1p (through Python's math.log1p) beside them.

    /usr/bin/python3 tests/data/check_log1p_series.py

Evaluates the series in the C++ order (Horner from the y^13 term in, each step rounded to
double, no fused multiply-add: the project builds with -ffp-contract=off). Printed 2026-12-07:
to y^13 0.97 ulp, to y^12 2.96, glibc 0.54.
"""
import math
import random

import mpmath

mpmath.mp.prec = 200


def series(y, terms):
    h = 1.0 / terms
    for k in range(terms - 1, 0, -1):
        h = 1.0 / k - y * h
    return y * h


def ulps(value, y):
    exact = mpmath.log1p(mpmath.mpf(y))
    return float(abs(mpmath.mpf(value) - exact) / math.ulp(float(exact)))


def main():
    random.seed(20261207)
    points = [2.0 ** random.uniform(-14, -4) for _ in range(20000)]
    for terms in (13, 12):
        print(f"series to y^{terms}: at most {max(ulps(series(y, terms), y) for y in points):.2f} ulp")
    print(f"glibc log1p: at most {max(ulps(math.log1p(y), y) for y in points):.2f} ulp")


if __name__ == "__main__":
    main()
