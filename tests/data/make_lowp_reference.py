"""Histograms of PyTorch's own 16-bit initialisers, for the power tests of the 16-bit grid
(tests/verify/torch_reference_test.cpp): what Debian's PyTorch 1.13 really produces on the CPU.

    /usr/bin/python3 tests/data/make_lowp_reference.py tests/data/torch_lowp

Writes one CSV per case: a comment line (the call, torch's version, the seed, n, the law the
values should follow), then `bits,count` for every bit pattern drawn (the histogram of the
65,536 patterns is a sufficient statistic for every i.i.d. marginal test). The bugs:
bfloat16 normal_ (Box-Muller computed in bfloat16: pytorch/pytorch#166853), trunc_normal_ on a
bfloat16 tensor (values stuck at the bounds: #145498), bfloat16 uniform_ (256 values); the
correct counterpart: float32 normal_ rounded once with .to(torch.bfloat16).
"""

import os
import sys

import numpy as np
import torch

N = 10**7
SEED = 0

CASES = [
    ("bf16_normal", "normal", "torch.empty(n, dtype=torch.bfloat16).normal_()",
     lambda: torch.empty(N, dtype=torch.bfloat16).normal_()),
    ("bf16_trunc_normal", "truncated_normal(std=0.02,a=-2,b=2)",
     "torch.nn.init.trunc_normal_(torch.empty(n, dtype=torch.bfloat16), std=0.02)",
     lambda: torch.nn.init.trunc_normal_(torch.empty(N, dtype=torch.bfloat16), std=0.02)),
    ("bf16_uniform", "uniform", "torch.empty(n, dtype=torch.bfloat16).uniform_()",
     lambda: torch.empty(N, dtype=torch.bfloat16).uniform_()),
    ("f32_normal_to_bf16", "normal", "torch.empty(n).normal_().to(torch.bfloat16)",
     lambda: torch.empty(N).normal_().to(torch.bfloat16)),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                             "torch_lowp")
    os.makedirs(out, exist_ok=True)
    for name, law, call, make in CASES:
        torch.manual_seed(SEED)
        bits = make().view(torch.int16).numpy().view(np.uint16)
        counts = np.bincount(bits, minlength=65536)
        path = os.path.join(out, name + ".csv")
        with open(path, "w") as f:
            f.write(f"# {call}; torch {torch.__version__}, torch.manual_seed({SEED}), n = {N}, "
                    f"{torch.get_num_threads()} threads; law: {law}\n")
            f.write("bits,count\n")
            for b in np.flatnonzero(counts):
                f.write(f"{b},{counts[b]}\n")
        print(path, int(np.count_nonzero(counts)), "distinct values")


if __name__ == "__main__":
    main()
