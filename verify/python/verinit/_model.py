"""Whole models: verify_model over the C++ rules and plan (verinit/verify/model.hpp), the same
ones ``verinit verify --input CHECKPOINT --rules FILE`` uses.

A rules document, in TOML or as the same Python data::

    layout = "torch"                 # optional, for every rule
    [[rule]]
    match = "*.bias"                 # shell glob on the full name: *, ?, [abc], [!abc]
    expect = "torch_linear"          # a scheme spec; numbers may be expressions over the
                                     # tensor: "normal(std=sqrt(1/fan_in))", shape[0], numel,
                                     # rank, layer, and the names of a [constants] table
    fans_from = "{parent}.weight"    # fans from another tensor's shape
    # fan_in = 768, fan_out = 3072   # or explicit fans
    # layout = "keras"
    # zero_rows = [0]                # rows that must be exactly zero (padding_idx)
    # rank = 4, shape = [768, 3, 16, 16], dtype = "float32"   # match these too
    # module = "Conv2d"              # Python only: tensors of modules of this class (or a
    #                                # subclass), for a torch.nn.Module source
    # skip = true                    # deliberately not verified (counters, buffers)

As Python data: a list of rule dicts, or a dict ``{"layout": ..., "rule": [...]}``; it is
written as TOML and parsed by the same parser, so both spellings have one set of checks.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from typing import Any, Optional

import numpy as _np

from . import _verinit
from ._core import (DEFAULT_SEED, as_input, check_text, is_torch_module, is_torch_tensor,
                    run)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, _np.integer)):
        return str(int(value))
    if isinstance(value, (float, _np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"rules: {where} is {value!r}, but must be a finite number")
        return repr(float(value))  # Python's repr of a finite float is a TOML float
    if isinstance(value, dict):  # an inline table: tolerance = {variance = 0.005}
        for key in value:
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"rules: {where} has key {key!r}, not a name")
        return "{" + ", ".join(f"{k} = {_toml_value(v, f'{where}.{k}')}"
                               for k, v in value.items()) + "}"
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ValueError(f"rules: {where} is {value!r}, but must be a string, a number, true/false, "
                     "a list or a table (dict)")


def _to_toml(data: Any) -> str:
    """Rules as Python data, written as the TOML document they stand for."""
    layout = tolerance = constants = None
    rules = data
    if isinstance(data, dict):
        unknown = set(data) - {"rule", "layout", "tolerance", "constants"}
        if unknown:
            raise ValueError(f"rules: top-level key '{sorted(unknown)[0]}' is unknown, but must "
                             "be 'rule', 'layout', 'tolerance' or 'constants'")
        layout = data.get("layout")
        tolerance = data.get("tolerance")
        constants = data.get("constants")
        rules = data.get("rule", [])
    if not isinstance(rules, (list, tuple)):
        raise ValueError(f"rules: expected a list of rules, got {type(rules).__name__}")
    lines = [] if layout is None else [f"layout = {_toml_value(layout, 'layout')}"]
    if tolerance is not None:
        lines.append(f"tolerance = {_toml_value(tolerance, 'tolerance')}")
    if constants is not None:
        lines.append(f"constants = {_toml_value(constants, 'constants')}")
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise ValueError(f"rules: rule {i + 1} is {rule!r}, but must be a table (dict)")
        lines.append("[[rule]]")
        for key, value in rule.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"rules: rule {i + 1} has key {key!r}, not a name")
            lines.append(f"{key} = {_toml_value(value, f'rule {i + 1}: {key}')}")
    return "\n".join(lines) + "\n"


def load_rules(rules: Any) -> "_verinit.Rules":
    """The parsed rules of a TOML path, a TOML string, or Python data. ValueError naming the
    rule and key of a bad one; OSError for a file that cannot be read."""
    if isinstance(rules, _verinit.Rules):
        return rules
    if isinstance(rules, os.PathLike) or (
            isinstance(rules, str) and rules.endswith(".toml") and "\n" not in rules):
        path = os.fspath(rules)
        with open(path, encoding="utf-8") as f:
            return _verinit.Rules.parse(f.read(), path)
    if isinstance(rules, str):
        return _verinit.Rules.parse(rules, "rules")
    return _verinit.Rules.parse(_to_toml(rules), "rules (Python data)")


def tensor_seed(seed: int, name: str) -> int:
    """The seed of tensor `name` in a model initialised with `seed`: the first 8 bytes
    (little-endian) of BLAKE2b-64 of "<seed>:<name>"."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _tensors(source: Any, who: str) -> list:
    """The model's tensors as verify_model_cases takes them."""
    if is_torch_module(source):
        source = source.state_dict()
    if not isinstance(source, dict):
        raise ValueError(f"{who}: source is a {type(source).__name__}, but must be a "
                         "checkpoint path, a dict of name -> array/tensor, or a torch.nn.Module")
    out = []
    for name, value in source.items():
        if not isinstance(name, str):
            raise ValueError(f"{who}: a tensor name is {name!r}, but must be a string")
        if is_torch_tensor(value):
            weight = value.is_floating_point()
            storage = value.data_ptr() if value.numel() else 0
            dtype_name = str(value.dtype)
        else:
            value = _np.asarray(value)
            weight = value.dtype.kind == "f"
            storage = value.__array_interface__["data"][0] if value.size else 0
            dtype_name = str(value.dtype)
        entry = {"name": name, "data": None, "dtype": "", "dtype_name": dtype_name,
                 "shape": list(value.shape), "storage": storage}
        if weight:
            entry["data"], entry["dtype"], _, note = as_input(value, None, None, who)
            if note:
                entry["note"] = f"tensor '{name}': {note}"
        out.append(entry)
    return out


def verify_model(
    source: Any,
    rules: Any = None,
    *,
    layout: str = "torch",
    alpha: float = 1e-6,
    seed: Optional[int] = None,
    threads: int = 0,
    memory: Any = "2G",
    notes: Optional[list] = None,
    key: Optional[str] = None,
):
    """verinit.verify_model's run over explicit rules (see its docstring there); `notes` are
    the caller's, added to the result's. A module's rules (recorded, or torch's defaults)
    come from verinit.torch; here `rules` must be given."""
    who = "verify_model"
    if rules is None:
        raise ValueError(f"{who}: rules is None, but rules are derived only for a "
                         "torch.nn.Module (give a TOML path or string, or a list of rules)")
    parsed = load_rules(rules)
    options = dict(alpha=alpha, seed=DEFAULT_SEED if seed is None else seed, threads=threads,
                   memory=memory)
    if isinstance(source, (str, os.PathLike)):
        # As the command line reads it: mapped, copies within half of `memory`, the rest
        # spilled to a temporary file (see the README's "Whole models").
        path = os.fspath(source)
        return run(path, **options, notes=notes, key=check_text(key or "", "key", who),
                   model=(parsed, check_text(layout, "layout", who), path))
    if key is not None:
        raise ValueError(f"{who}: key is {key!r}, but is used only with a .pt file path")
    tensors = _tensors(source, who)
    if not tensors:
        raise ValueError(f"{who}: the source holds no tensors")
    return run(tensors, **options, notes=list(notes or []) + [t["note"] for t in tensors if "note" in t],
                model=(parsed, check_text(layout, "layout", who), "python"))
