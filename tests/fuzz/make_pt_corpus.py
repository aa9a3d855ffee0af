#!/usr/bin/env python3
"""Writes tests/fuzz/corpus_pt from the .pt files of tests/data/pt (make_pt_reference.py):
for each, its data.pkl prefixed with byte 0 (pt_fuzz evaluates it alone) and the whole file
prefixed with byte 1 (read through checkpoint::open). Standard library only. The corpus also
holds review_*.file: hostile files from the 2026-12-07 review (a repeated root key, a
Parameter rebuilt with a state, a legacy/zip polyglot, a tensor tied to an overlapping view,
byte counts that wrap), each the whole file prefixed with byte 1; this script leaves them."""
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "data", "pt")
OUT = os.path.join(HERE, "corpus_pt")

os.makedirs(OUT, exist_ok=True)
for name in sorted(os.listdir(SOURCE)):
    if not name.endswith(".pt"):
        continue
    with open(os.path.join(SOURCE, name), "rb") as f:
        whole = f.read()
    with open(os.path.join(OUT, name[:-3] + ".file"), "wb") as f:
        f.write(b"\x01" + whole)
    if not zipfile.is_zipfile(os.path.join(SOURCE, name)):
        continue
    with zipfile.ZipFile(os.path.join(SOURCE, name)) as z:
        pickles = [n for n in z.namelist() if n.endswith("/data.pkl")]
        if pickles:
            with open(os.path.join(OUT, name[:-3] + ".pkl"), "wb") as f:
                f.write(b"\x00" + z.read(pickles[0]))
