#!/usr/bin/python3
"""Writes tests/data/pt/: torch.save files made by Debian 12's torch 1.13 (and files with
torch 2.x's additions, synthesised here with torch's own zip writer and a small pickle writer),
and expected.json: each readable file's tensors as torch.load returns them (name, dtype,
shape, CRC-32 of the C-order bytes, little-endian), the non-tensor values, and for each file
verinit must refuse, the words its one-line error must hold.

Run with /usr/bin/python3 (torch 1.13): python3 tests/data/make_pt_reference.py
The files are committed; the C++ tests (tests/io/torch_archive_test.cpp) read them without
Python.
"""
import json
import os
import struct
import zlib

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pt")
DTYPE = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
         torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
         torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64"}


def crc(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    return zlib.crc32(raw), len(raw)


def loaded(name, key=None):
    """The tensors of a file as torch.load returns them (a root key's dict with `key`)."""
    value = torch.load(os.path.join(OUT, name))
    if key is not None:
        value = value[key]
    return describe({k: v.detach() for k, v in value.items()})


def describe(tensors):
    out = []
    for name, t in tensors.items():
        c, n = crc(t)
        out.append({"name": name, "dtype": DTYPE[t.dtype], "shape": list(t.shape),
                    "crc32": c, "bytes": n})
    return out


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.emb = torch.nn.Embedding(5, 4)
        self.head = torch.nn.Linear(4, 5, bias=False)
        self.head.weight = self.emb.weight  # tied
        self.bn = torch.nn.BatchNorm1d(3)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    expected = {"read": {}, "refused": {}}
    net = Net()
    sd = net.state_dict()
    base = torch.randn(4, 6)
    misc = dict(sd)
    misc.update({
        "half": torch.randn(2, 3).half(),
        "bf16": torch.randn(2, 3).bfloat16(),
        "f64": torch.randn(3, dtype=torch.float64),
        "i64": torch.arange(6),
        "i32": torch.arange(4, dtype=torch.int32),
        "i8": torch.arange(-2, 2, dtype=torch.int8),
        "u8": torch.arange(3, dtype=torch.uint8),
        "flag": torch.tensor([True, False]),
        "c64": torch.randn(2, dtype=torch.complex64),
        "scalar": torch.tensor(3.5),
        "empty": torch.empty(0, 3),
        "view_T": base.t(),
        "tail": torch.randn(700)[656:],
    })
    torch.save(misc, os.path.join(OUT, "state_dict.pt"))
    expected["read"]["state_dict.pt"] = {"tensors": loaded("state_dict.pt"), "others": [],
                                         "tied": [["head.weight", "emb.weight"]]}

    # Views of one storage: disjoint slices are independent, overlapping ones are withheld.
    buf = torch.randn(6, 4)
    views = {"q": buf[0:2], "k": buf[2:4], "v": buf[4:6], "cols": buf[:, 1:3],
             "rep": torch.randn(1).expand(5)}
    torch.save(views, os.path.join(OUT, "views.pt"))
    expected["read"]["views.pt"] = {"tensors": loaded("views.pt"), "others": [],
                                    "withheld": ["cols", "rep"]}

    params = dict(net.named_parameters())
    torch.save(params, os.path.join(OUT, "parameters.pt"))
    expected["read"]["parameters.pt"] = {"tensors": loaded("parameters.pt"), "others": []}

    ckpt = {"epoch": 3, "model": sd, "optimizer": {"lr": 0.1, "betas": (0.9, 0.999)},
            "name": "run-1", "best": None}
    torch.save(ckpt, os.path.join(OUT, "training.pt"))
    expected["read"]["training.pt"] = {"tensors": loaded("training.pt", "model"),
                                       "others": ["'epoch' (int)", "'optimizer' (dict of 2 entries)",
                                                  "'name' (str)", "'best' (None)"]}

    many = {f"layers.{i}.weight": torch.randn(2) for i in range(300)}
    torch.save(many, os.path.join(OUT, "many.pt"))  # > 256 memo entries: LONG_BINPUT
    expected["read"]["many.pt"] = {"tensors": loaded("many.pt"), "others": []}

    one = torch.randn(3, 2)
    torch.save(one, os.path.join(OUT, "tensor.pt"))
    expected["read"]["tensor.pt"] = {"tensors": describe(
        {"tensor": torch.load(os.path.join(OUT, "tensor.pt"))}), "others": []}

    # Refused: the legacy format, TorchScript, a whole module, protocol 4.
    torch.save(sd, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)
    expected["refused"]["legacy.pt"] = "legacy torch.save format"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), os.path.join(OUT, "scripted.pt"))
    expected["refused"]["scripted.pt"] = "TorchScript archive"
    torch.save(torch.nn.Linear(2, 2), os.path.join(OUT, "module.pt"))
    expected["refused"]["module.pt"] = "GLOBAL 'torch.nn.modules.linear.Linear'"
    torch.save(sd, os.path.join(OUT, "protocol4.pt"), pickle_protocol=4)
    expected["refused"]["protocol4.pt"] = "pickle protocol 4"

    # torch 2.x's additions, written with torch's own zip writer and a pickle writer.
    w = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    v3 = torch.from_numpy(w)
    write_archive(os.path.join(OUT, "v3.pt"),
                  {"w": ("v3", w.tobytes(), "float32", 12, (3, 4), (4, 1))},
                  little=True, extra={".format_version": b"1", ".storage_alignment": b"64",
                                      ".data/serialization_id": b"0" * 40})
    expected["read"]["v3.pt"] = {"tensors": describe({"w": v3}), "others": []}
    write_archive(os.path.join(OUT, "big.pt"),
                  {"w": ("v2", w.byteswap().tobytes(), "float32", 12, (3, 4), (4, 1))},
                  little=False)
    expected["read"]["big.pt"] = {"tensors": describe({"w": v3}), "others": []}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


# ---- a small protocol-2 pickle writer, for the opcodes torch.save uses ----

def s(text):
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def i(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def tup(items):
    return b"(" + b"".join(items) + b"t"


def g(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def state_dict_pickle(tensors):
    """A state_dict's pickle; tensors: name -> (rebuild, key, dtype, numel, size, stride),
    rebuild "v2" (a typed storage) or "v3" (an untyped one, numel in bytes, and a dtype)."""
    out = b"\x80\x02" + g("collections", "OrderedDict") + b")R("
    for name, (rebuild, key, dtype, numel, size, stride) in tensors.items():
        storage = g("torch.storage", "UntypedStorage") if rebuild == "v3" else \
            g("torch", {"float32": "FloatStorage"}[dtype])
        count = numel * 4 if rebuild == "v3" else numel
        pid = tup([s("storage"), storage, s(key), s("cpu"), i(count)]) + b"Q"
        args = [pid, i(0), tup([i(x) for x in size]), tup([i(x) for x in stride]), b"\x89",
                g("collections", "OrderedDict") + b")R"]
        if rebuild == "v3":
            args.append(g("torch", dtype))
        out += s(name) + g("torch._utils", "_rebuild_tensor_" + rebuild) + tup(args) + b"R"
    return out + b"u."


def write_archive(path, tensors, little, extra=None):
    """An archive as torch.save writes it (torch's own zip writer; the prefix is the file's
    stem); tensors: name -> (rebuild, bytes, dtype, numel, size, stride), storage n the n-th."""
    writer = torch._C.PyTorchFileWriter(path)
    records = {"data.pkl": state_dict_pickle({
        name: (v[0], str(n), v[2], v[3], v[4], v[5]) for n, (name, v) in enumerate(tensors.items())})}
    records["byteorder"] = b"little" if little else b"big"
    for n, (name, v) in enumerate(tensors.items()):
        records[f"data/{n}"] = v[1]
    for name, data in (extra or {}).items():
        records[name] = data
    for name, data in records.items():
        writer.write_record(name, data, len(data))
    writer.write_end_of_file()


if __name__ == "__main__":
    main()
