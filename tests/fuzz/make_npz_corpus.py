"""Seeds for npz_fuzz: small archives as numpy.savez and savez_compressed write them (stored
and deflated members, Zip64 local extra fields), with float, integer, big-endian, Fortran-order
and 16-bit bit-pattern members. Run with /usr/bin/python3 (Debian's numpy) from the repository
root: python3 tests/fuzz/make_npz_corpus.py"""

import os

import numpy as np

out = os.path.join(os.path.dirname(__file__), "corpus_npz")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
arrays = {
    "fc.weight": rng.uniform(-1, 1, (4, 3)).astype(np.float32),
    "fc.bias": np.zeros(4, np.float32),
    "bn.num_batches_tracked": np.array(0, np.int64),
}
np.savez(os.path.join(out, "stored.npz"), **arrays)
np.savez_compressed(os.path.join(out, "deflated.npz"), **arrays)
np.savez(os.path.join(out, "orders.npz"),
         big=rng.normal(size=(2, 3)).astype(">f8"),
         fortran=np.asfortranarray(rng.normal(size=(3, 2)).astype(np.float16)),
         bits=np.array([0x3F80, 0xBF80], np.uint16))
