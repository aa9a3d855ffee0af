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

from ._defaults import apply_, default_rules
from ._record import Record, find_record, record
from ._tensors import init_, sample

__all__ = ["init_", "sample", "default_rules", "apply_", "record", "Record", "model_rules"]


def model_rules(module: "_torch.nn.Module", rules: Any = None) -> Tuple[Any, List[str]]:
    """(rules, notes) for verifying `module`: the laws recorded while it was built (a
    :func:`record` covers it), after `rules` where given (they win: the first match does); else
    `rules`; else :func:`default_rules`."""
    rec = find_record(module)
    if rec is None:
        return (default_rules(module) if rules is None else rules), []
    recorded, notes = rec.rules(module)
    recorded = [{k: v for k, v in rule.items() if not k.startswith("_")} for rule in recorded]
    if rules is None:
        return recorded, notes
    from .._model import load_rules

    extra = load_rules(rules)
    covered = [note for note in notes if extra.match(note.split("'")[1]) is None]
    return _joined(rules, recorded), covered


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
