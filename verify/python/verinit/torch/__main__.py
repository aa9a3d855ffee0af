"""``python -m verinit.torch record MODULE:BUILDER --out DIR``: builds a model by its import
path under :func:`verinit.torch.record`, saves its weights (``DIR/model.safetensors``) and the
recorded laws (``DIR/laws.toml``, the rules file ``verinit verify --rules`` reads), verifies the
saved weights against the laws and writes the report (``DIR/report/``). Exit 0 when every
tensor passes, 1 when one fails, 2 for a bad argument.

    python -m verinit.torch record torchvision.models:resnet50 --out out/resnet50
    verinit verify --input out/resnet50/model.safetensors --rules out/resnet50/laws.toml
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import struct
import sys
import time
from typing import Any, Dict

import torch as _torch

from .. import verify_model
from ._record import record

# safetensors' dtype names (https://github.com/huggingface/safetensors, format in its README).
_SAFETENSORS_DTYPES = {
    _torch.float64: "F64", _torch.float32: "F32", _torch.float16: "F16", _torch.bfloat16: "BF16",
    _torch.int64: "I64", _torch.int32: "I32", _torch.int16: "I16", _torch.int8: "I8",
    _torch.uint8: "U8", _torch.bool: "BOOL",
}


def save_safetensors(state: Dict[str, "_torch.Tensor"], path: str) -> None:
    """Writes tensors as a safetensors file: an 8-byte little-endian header length, the JSON
    header (dtype, shape, data_offsets per name), then the tensors' bytes back to back."""
    header: Dict[str, Any] = {}
    blobs = []
    offset = 0
    for name, tensor in state.items():
        t = tensor.detach().cpu().contiguous()
        dtype = _SAFETENSORS_DTYPES.get(t.dtype)
        if dtype is None:
            raise ValueError(f"save_safetensors: tensor '{name}' is {t.dtype}, which safetensors "
                             "does not hold")
        data = t.reshape(-1).view(_torch.uint8).numpy().tobytes() if t.numel() else b""
        if sys.byteorder != "little":
            raise OSError("save_safetensors: only little-endian hosts are supported")
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def _builder(path: str):
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"record: '{path}' is not MODULE:BUILDER (e.g. "
                         "torchvision.models:resnet50)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"record: cannot import '{module_name}': {error}") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"record: '{module_name}' has no '{attribute}'")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"record: '{path}' is not callable")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verinit.torch")
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="build a model under record(), save its weights "
                              "and laws, verify them")
    rec.add_argument("builder", help="MODULE:BUILDER, e.g. torchvision.models:resnet50")
    rec.add_argument("--out", required=True, help="directory for model.safetensors, laws.toml "
                     "and report/")
    rec.add_argument("--kwargs", default="{}", help="JSON object of the builder's arguments")
    rec.add_argument("--seed", type=int, default=0, help="torch.manual_seed before the build")
    rec.add_argument("--no-verify", action="store_true", help="only record and save")
    args = parser.parse_args(argv)
    try:
        kwargs = json.loads(args.kwargs)
        if not isinstance(kwargs, dict):
            raise ValueError
    except ValueError:
        print(f"record: --kwargs is {args.kwargs!r}, but must be a JSON object", file=sys.stderr)
        return 2
    try:
        build = _builder(args.builder)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    _torch.manual_seed(args.seed)
    start = time.perf_counter()
    with record() as laws:
        model = build(**kwargs)
    built = time.perf_counter() - start
    if not isinstance(model, _torch.nn.Module):
        print(f"record: {args.builder} returned a {type(model).__name__}, not a torch.nn.Module",
              file=sys.stderr)
        return 2
    weights = os.path.join(args.out, "model.safetensors")
    rules_path = os.path.join(args.out, "laws.toml")
    save_safetensors(model.state_dict(), weights)
    with open(rules_path, "w", encoding="utf-8") as f:
        f.write(laws.to_toml(model))
    print(f"built {args.builder} in {built:.2f} s under record(); wrote {weights} and "
          f"{rules_path}")
    if args.no_verify:
        return 0
    result = verify_model(weights, rules_path)
    report = result.write_report(os.path.join(args.out, "report"))
    print(result.summary())
    print(f"report: {report}")
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
