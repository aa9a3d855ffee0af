#!/usr/bin/python3
"""Regenerates the reference values the verifier's tests compare against.

Run with Debian's python3 (python3-scipy, python3-mpmath):  /usr/bin/python3 make_reference.py
Writes, next to this script:
  kstwo_sf.csv      n, D, scipy.stats.kstwo.sf(D, n)  (scipy 1.10.1), over every branch of
                    Simard & L'Ecuyer's method selection
  ad_asymptotic.csv z, P(A^2 > z) for the limiting Anderson-Darling law, from the series of
                    Marsaglia & Marsaglia (2004), eq. 2, evaluated with mpmath at 40 digits
                    (an implementation independent of verify/'s).
"""
import csv, os
import mpmath as mp
import scipy
from scipy import stats

here = os.path.dirname(os.path.abspath(__file__))

def kstwo_rows():
    rows = []
    ns = [1, 2, 3, 5, 10, 50, 100, 140, 141, 500, 1000, 5000, 10**4, 10**5, 100001, 10**6, 1000001,
          10**7, 10**8]
    for n in ns:
        # D on a grid that crosses every branch: n D <= 1, the Durbin/Pelz-Good body, the
        # 2*Smirnov tail, D >= 1/2 and D >= 1 - 1/n.
        ds = set()
        for w in [0.05, 0.2, 0.5, 0.754, 1.0, 1.5, 2.0, 2.19, 2.21, 3.0, 4.0, 6.0, 10.0, 18.0, 30.0, 60.0]:
            d = (w / n) ** 0.5
            if d < 1: ds.add(d)
        for t in [0.6, 0.9, 1.0]:
            ds.add(t / n)
        for d in [0.3, 0.5, 0.6, 0.9, 1 - 1.0 / n + 1e-12 if n > 1 else 0.99]:
            if 0 < d < 1: ds.add(d)
        for d in sorted(ds):
            rows.append((n, repr(d), repr(float(stats.kstwo.sf(d, n)))))
    return rows

def ad_sf(z):
    """P(A^2 > z), limiting law: 1 - sqrt(2 pi)/z sum_j C(-1/2, j)(4j+1) exp(-(4j+1)^2 pi^2/(8z))
    * int_0^inf exp(z/(8(w^2+1)) - (4j+1)^2 pi^2 w^2/(8z)) dw."""
    z = mp.mpf(z)
    total = mp.mpf(0)
    for j in range(0, 200):
        c = mp.binomial(-0.5, j)
        a = (4 * j + 1) ** 2 * mp.pi ** 2 / (8 * z)
        integral = mp.quad(lambda w: mp.exp(z / (8 * (w * w + 1)) - a * w * w), [0, 1, mp.inf])
        term = c * (4 * j + 1) * mp.exp(-a) * integral
        total += term
        if abs(term) < mp.mpf(10) ** -45: break
    return 1 - mp.sqrt(2 * mp.pi) / z * total

def main():
    mp.mp.dps = 40
    with open(os.path.join(here, "kstwo_sf.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["# scipy " + scipy.__version__ + " stats.kstwo.sf"])
        out.writerow(["n", "d", "sf"])
        out.writerows(kstwo_rows())
    with open(os.path.join(here, "ad_asymptotic.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["# limiting Anderson-Darling law, mpmath " + mp.__version__ + " at 40 digits"])
        out.writerow(["z", "sf"])
        for z in [0.1, 0.2, 0.5, 1.0, 1.933, 2.492, 3.0, 3.857, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0,
                  25.0, 30.0]:
            out.writerow([repr(z), mp.nstr(ad_sf(z), 17)])

if __name__ == "__main__":
    main()
