"""Whole models: rules per tensor (first match wins) and verify_model.

A rules document, in TOML or as the same Python data::

    layout = "torch"                 # optional, for every rule
    [[rule]]
    match = "*.bias"                 # shell glob on the full name: *, ?, [abc], [!abc]
    expect = "torch_linear"          # a scheme spec
    fans_from = "{parent}.weight"    # fans from another tensor's shape
    # fan_in = 768, fan_out = 3072   # or explicit fans
    # layout = "keras"
    # zero_rows = [0]                # rows that must be exactly zero (padding_idx)
    # skip = true                    # deliberately not verified (counters, buffers)

As Python data: a list of rule dicts, or a dict ``{"layout": ..., "rule": [...]}``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import tomllib
from typing import Any, Dict, List, Optional, Tuple

import numpy as _np

from . import _verinit
from . import _is_torch_module, _is_torch_tensor

_KEYS = {"match", "expect", "fans_from", "fan_in", "fan_out", "layout", "skip", "zero_rows"}


def load_rules(rules: Any) -> Tuple[List[Dict[str, Any]], Optional[str]]:
    """(rules, top-level layout) from a TOML path, a TOML string, a list of dicts or a dict
    with "rule" (and "layout"). Raises ValueError naming a bad rule or key."""
    who = "rules"
    document: Any = rules
    if isinstance(rules, (str, os.PathLike)):
        text = os.fspath(rules)
        if isinstance(rules, os.PathLike) or (text.endswith(".toml") and "\n" not in text):
            try:
                with open(text, "rb") as f:
                    document = tomllib.load(f)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{who}: '{text}' is not valid TOML ({error})") from None
        else:
            try:
                document = tomllib.loads(text)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{who}: the text is not valid TOML ({error})") from None
    layout = None
    if isinstance(document, dict):
        unknown = set(document) - {"rule", "layout"}
        if unknown:
            raise ValueError(f"{who}: top-level key '{sorted(unknown)[0]}' is unknown, but must "
                             "be 'rule' or 'layout'")
        layout = document.get("layout")
        if layout is not None and layout not in ("torch", "keras"):
            raise ValueError(f"{who}: layout is {layout!r}, but must be 'torch' or 'keras'")
        document = document.get("rule", [])
    if not isinstance(document, list):
        raise ValueError(f"{who}: expected a list of rules, got {type(document).__name__}")
    out = []
    for i, rule in enumerate(document):
        where = f"{who}: rule {i + 1}"
        if not isinstance(rule, dict):
            raise ValueError(f"{where} is {rule!r}, but must be a table (dict)")
        unknown = set(rule) - _KEYS
        if unknown:
            raise ValueError(f"{where} has key '{sorted(unknown)[0]}', but the keys are "
                             + ", ".join(sorted(_KEYS)))
        if not isinstance(rule.get("match"), str):
            raise ValueError(f"{where}: match is missing or not a string")
        if not rule.get("skip") and not isinstance(rule.get("expect"), str):
            raise ValueError(f"{where} ('{rule['match']}'): expect is missing (a scheme spec), "
                             "and skip is not true")
        if "layout" in rule and rule["layout"] not in ("torch", "keras"):
            raise ValueError(f"{where}: layout is {rule['layout']!r}, but must be 'torch' or "
                             "'keras'")
        if ("fan_in" in rule) != ("fan_out" in rule):
            raise ValueError(f"{where}: fan_in and fan_out must be given together")
        for key in ("fan_in", "fan_out"):
            if key in rule and (not isinstance(rule[key], int) or isinstance(rule[key], bool)
                                or rule[key] < 1):
                raise ValueError(f"{where}: {key} is {rule[key]!r}, but must be an integer >= 1")
        if "fans_from" in rule and "fan_in" in rule:
            raise ValueError(f"{where}: fans_from and fan_in/fan_out are alternatives")
        rows = rule.get("zero_rows", [])
        if not isinstance(rows, list) or not all(
                isinstance(r, int) and not isinstance(r, bool) for r in rows):
            raise ValueError(f"{where}: zero_rows is {rows!r}, but must be a list of integers")
        out.append(dict(rule))
    return out, layout


def match_rule(rules: List[Dict[str, Any]], name: str) -> Optional[Dict[str, Any]]:
    """The first rule whose glob matches the whole name (* also across dots)."""
    for rule in rules:
        if fnmatch.fnmatchcase(name, rule["match"]):
            return rule
    return None


def fans_shape_of(rule: Dict[str, Any], name: str, shapes: Dict[str, tuple],
                  layout: str) -> Optional[List[int]]:
    """The shape whose fans the rule names: fans_from's tensor, or explicit fans as a 2-D
    shape; None: the tensor's own."""
    if "fan_in" in rule:
        fi, fo = rule["fan_in"], rule["fan_out"]
        return [fo, fi] if layout == "torch" else [fi, fo]
    if "fans_from" not in rule:
        return None
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    other = rule["fans_from"].replace("{parent}", parent)
    if other not in shapes:
        raise ValueError(f"rule '{rule['match']}': fans_from names '{other}' for tensor "
                         f"'{name}', but there is no such tensor")
    return list(shapes[other])


def tensor_seed(seed: int, name: str) -> int:
    """The seed of tensor `name` in a model initialised with `seed`: the first 8 bytes
    (little-endian) of BLAKE2b-64 of "<seed>:<name>"."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _entries(source: Any):
    """[(name, data, dtype, shape, storage key or None, is_weight)] of a checkpoint path, a
    dict of name -> array/tensor, or a torch.nn.Module."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not path.endswith(".safetensors"):
            raise ValueError(f"verify_model: source is '{path}', but a checkpoint path must be a "
                             ".safetensors file (sharded and .npz checkpoints: not yet)")
        out = []
        for e in _verinit.list_tensors(path):
            data = _verinit.TensorFile.open(path, e["name"]) if e["weight"] else None
            out.append((e["name"], data, "", tuple(e["shape"]), None, e["weight"], e["dtype"]))
        return out
    if _is_torch_module(source):
        source = source.state_dict()
    if not isinstance(source, dict):
        raise ValueError(f"verify_model: source is a {type(source).__name__}, but must be a "
                         "checkpoint path, a dict of name -> array/tensor, or a torch.nn.Module")
    out = []
    for name, value in source.items():
        if not isinstance(name, str):
            raise ValueError(f"verify_model: a tensor name is {name!r}, but must be a string")
        if _is_torch_tensor(value):
            weight = value.is_floating_point()
            key = (value.data_ptr(), str(value.dtype), tuple(value.shape), value.stride())
            out.append((name, value, "", tuple(value.shape), key, weight, str(value.dtype)))
        else:
            array = _np.asarray(value)
            weight = array.dtype.kind == "f"
            key = (array.__array_interface__["data"][0], str(array.dtype), array.shape,
                   array.strides)
            out.append((name, array, "", array.shape, key, weight, str(array.dtype)))
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
):
    """Verifies every tensor of a model against the law its rule names, in one run (one Holm
    family over every test of every tensor) and returns a :class:`verinit.Result` whose cases
    carry `tensor` and `rule`.

    `source`: a .safetensors checkpoint path, a dict of name -> numpy array or torch tensor, or
    a torch.nn.Module (its state_dict). `rules`: a TOML path or string, or the same as Python
    data (see verinit._model); None for a module takes ``verinit.torch.default_rules(module)``.
    A tensor no rule matches fails the run and is listed in `Result.unmatched`; integer and bool
    tensors must be skipped by their rule (else ValueError); tied tensors (one storage, two
    names) are verified once and listed in `Result.tied`; rows of a ``zero_rows`` rule are
    checked to be exactly zero as a case of their own, the other rows against the law.
    """
    from . import DEFAULT_SEED, _as_input, _run

    who = "verify_model"
    if rules is None:
        if not _is_torch_module(source):
            raise ValueError(f"{who}: rules is None, but rules are derived only for a "
                             "torch.nn.Module (give a TOML path or string, or a list of rules)")
        from . import torch as _vtorch

        rules = _vtorch.default_rules(source)
    table, top_layout = load_rules(rules)
    entries = _entries(source)
    shapes = {e[0]: e[3] for e in entries}
    cases, notes = [], []
    unmatched, skipped, tied = [], [], {}
    first_of: Dict[Any, str] = {}
    for name, data, _, shape, key, weight, dtype_text in entries:
        rule = match_rule(table, name)
        if rule is None:
            unmatched.append(name)
            continue
        if rule.get("skip"):
            skipped.append(name)
            continue
        if not weight:
            raise ValueError(f"{who}: tensor '{name}' is {dtype_text}, not a weight: its rule "
                             f"'{rule['match']}' must say skip = true")
        if key is not None and key in first_of:
            tied[name] = first_of[key]
            continue
        if key is not None:
            first_of[key] = name
        if 0 in shape:
            skipped.append(name)
            notes.append(f"tensor '{name}' has no elements (shape {shape})")
            continue
        rule_layout = rule.get("layout", top_layout or layout)
        fans = fans_shape_of(rule, name, shapes, rule_layout)
        array, kind, src, note = _as_input(data, None, None, who)
        if note:
            notes.append(f"tensor '{name}': {note}")
        rows = rule.get("zero_rows", [])
        base = {"dtype": kind, "layout": rule_layout, "rule": rule["match"],
                "source": src if not isinstance(source, (str, os.PathLike)) else os.fspath(source)}
        if rows:
            if isinstance(array, _verinit.TensorFile):
                raise ValueError(f"{who}: zero_rows for tensor '{name}' of a file: not yet "
                                 "(verify the module or a dict of its tensors)")
            height = array.shape[0] if array.ndim else 0
            bad = [r for r in rows if not -height <= r < height]
            if bad:
                raise ValueError(f"{who}: zero_rows {bad} of tensor '{name}' are outside its "
                                 f"{height} rows")
            keep = _np.ones(height, dtype=bool)
            keep[rows] = False
            cases.append({**base, "data": _np.ascontiguousarray(array[rows]), "expect": "zeros",
                          "tensor": f"{name}[rows {','.join(str(r) for r in rows)}]"})
            if keep.any():
                cases.append({**base, "data": _np.ascontiguousarray(array[keep]),
                              "expect": rule["expect"], "shape": fans or list(shape),
                              "tensor": name})
            continue
        cases.append({**base, "data": array, "expect": rule["expect"], "shape": fans,
                      "tensor": name})
    if not cases and not unmatched:
        raise ValueError(f"{who}: no tensor to verify (every tensor skipped or the source is "
                         "empty)")
    return _run(cases, alpha=alpha, seed=DEFAULT_SEED if seed is None else seed,
                threads=threads, memory=memory, notes=notes,
                extra={"unmatched": unmatched, "skipped": skipped, "tied": tied})
