"""verinit for PyTorch: fill and sample torch tensors, initialise modules by PyTorch's own
per-class defaults, and record the laws a model's own code applies while it is built.

- :func:`init_`, :func:`sample`: torch tensors in, torch tensors out (``_tensors``);
- :func:`default_rules`, :func:`apply_`: PyTorch's module defaults as rules (``_defaults``);
- :func:`record`: the laws a model's construction code applies (``_record``), which
  ``verinit.verify_model(model)`` then uses with no rules;
- ``python -m verinit.torch record PACKAGE.MODULE:BUILDER --out DIR``: build, record, save
  the weights and the laws, verify (``__main__``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch as _torch

from ._defaults import apply_, default_rules, literal
from ._record import Record, find_record, record
from ._tensors import init_, sample

__all__ = ["init_", "sample", "default_rules", "apply_", "record", "Record", "model_rules"]


def model_rules(module: "_torch.nn.Module", rules: Any = None) -> Tuple[Any, List[str], bool]:
    """(rules, notes, defaults) for verifying `module`: the laws recorded while it was built (a
    :func:`record` covers it), after `rules` where given (they win: the first match does); else
    `rules`; else :func:`default_rules` (`defaults` true)."""
    rules = module_rules(module, rules)
    rec = find_record(module)
    if rec is None:
        return (default_rules(module), [], True) if rules is None else (rules, [], False)
    recorded, notes = rec.rules(module)
    recorded = [{k: v for k, v in rule.items() if not k.startswith("_")} for rule in recorded]
    if rules is None:
        return recorded, notes, False
    from .._model import load_rules

    extra = load_rules(rules)
    covered = [note for note in notes if extra.match(note.split("'")[1]) is None]
    return _joined(rules, recorded), covered, False


def reinit_hints(result: Any) -> List[str]:
    """For tensors that fail PyTorch's module defaults but whose samples fit another catalogue
    scheme (the diagnosis's identification, made by the core on the tensor's first 2^14
    values): a note that the model probably re-initialised them in its own code, and how to
    verify against the laws that code applied."""
    hints: List[str] = []
    marker = "the samples fit "
    for case in result.failed:
        at = (case.diagnosis or "").find(marker)
        if at < 0:
            continue
        fit = case.diagnosis[at + len(marker):].split(" (KS D")[0]
        hints.append(
            f"tensor '{case.tensor}' fails PyTorch's default for its module but fits {fit}: "
            "the model probably re-initialised it in its own code; build it under `with "
            "verinit.torch.record(): model = ...` and verify_model(model) checks the laws its "
            "code applied")
    return hints


def _joined(first: Any, then: List[Dict[str, Any]]) -> Any:
    """Rules `first` (Python data) followed by `then`."""
    if isinstance(first, dict):
        out = dict(first)
        out["rule"] = list(first.get("rule", [])) + then
        return out
    if isinstance(first, (list, tuple)):
        return list(first) + then
    raise ValueError("verify_model: rules beside a record must be Python data (a list of "
                     "rules or a dict with 'rule'), so that the recorded rules can follow them")


def module_rules(module: "_torch.nn.Module", rules: Any) -> Any:
    """Rules (Python data) whose `module` key names a module class: each becomes, in its place,
    one exact-name rule per tensor of a module of that class (or a subclass; the class's name,
    e.g. "Conv2d", or its qualified name) that its glob also matches. Other rules and TOML
    text pass unchanged (the TOML reader knows no module)."""
    from .._model import load_rules

    if isinstance(rules, dict):
        items, wrap = rules.get("rule", []), lambda r: {**rules, "rule": r}
    elif isinstance(rules, (list, tuple)):
        items, wrap = rules, list
    else:
        return rules
    if not any(isinstance(r, dict) and "module" in r for r in items):
        return rules
    owners: Dict[str, Any] = {}
    for prefix, m in module.named_modules(remove_duplicate=False):
        for name, _ in list(m.named_parameters(recurse=False)) + list(m.named_buffers(recurse=False)):
            owners.setdefault(f"{prefix}.{name}" if prefix else name, m)
    state = module.state_dict(keep_vars=True)
    out: List[Any] = []
    for rule in items:
        if not (isinstance(rule, dict) and "module" in rule):
            out.append(rule)
            continue
        wanted = rule["module"]
        if not isinstance(wanted, str):
            raise ValueError(f"rules: module is {wanted!r}, but must be a class name, e.g. "
                             "'Conv2d'")
        rest = {k: v for k, v in rule.items() if k not in ("module", "match")}
        glob = load_rules([{"match": rule.get("match", "*"), "skip": True}])
        for name in state:
            owner = owners.get(name)
            if owner is None or glob.match(name) is None:
                continue
            names = {c.__name__ for c in type(owner).__mro__} | {
                f"{c.__module__}.{c.__qualname__}" for c in type(owner).__mro__}
            if wanted in names:
                out.append({"match": literal(name), **rest})
    return wrap(out)
