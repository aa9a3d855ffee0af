"""PyTorch's own per-class initialisation defaults as rules, and apply_ that initialises a module
by rules."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import torch as _torch

from .. import _verinit
from .._core import check_seed
from .._model import load_rules, tensor_seed
from ._tensors import init_

__all__ = ["default_rules", "apply_", "literal"]


def literal(name: str) -> str:
    """A glob that matches exactly `name` ([, ], * and ? bracketed)."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in name)


def _bound(fan_in: int) -> float:
    # torch.nn.Linear/ConvNd's bias bound (torch/nn/modules/linear.py, conv.py): Python double.
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def _uniform(bound: float) -> str:
    return "zeros" if bound == 0 else f"uniform(a={-bound!r},b={bound!r})"


def default_rules(module: "_torch.nn.Module") -> List[Dict[str, Any]]:
    """The rules PyTorch's own constructors follow, one per tensor of `module.state_dict()`,
    exact names, as :func:`verinit.verify_model` and :func:`apply_` take them.

    Per class (torch/nn/modules/*.py, checked against torch 1.13): Linear and Conv*/
    ConvTranspose* weights ``torch_linear`` (kaiming_uniform, a = sqrt(5)), their biases
    U(+-1/sqrt(fan_in of the weight)); Bilinear weight and bias U(+-1/sqrt(in1_features));
    Embedding/EmbeddingBag N(0, 1) with the padding_idx row exactly zero; LayerNorm, GroupNorm,
    BatchNorm*/InstanceNorm*/SyncBatchNorm weight ones, bias zeros, running_mean zeros,
    running_var ones, num_batches_tracked skipped; MultiheadAttention's packed (3E, E)
    in_proj_weight (or q/k/v_proj_weight) xavier_uniform, in_proj_bias and out_proj.bias zeros,
    bias_k/bias_v xavier_normal; RNN/LSTM/GRU and their cells U(+-1/sqrt(hidden_size)) for
    every parameter; PReLU constant 0.25 (its default init: torch does not keep a PReLU's
    `init` argument, so a PReLU built with another is reported; give it its own rule);
    nn.Transformer re-initialises
    every parameter of more than one dim with xavier_uniform. Integer and bool tensors of any
    module are skipped (never weights). A rule of a parent module wins
    over its children's (MultiheadAttention's out_proj.bias, Transformer's re-init). Tensors
    of other module types get no rule, so verify_model lists them as unmatched.
    """
    nn = _torch.nn
    rules: Dict[str, Dict[str, Any]] = {}

    def add(name: str, expect: Optional[str] = None, **extra: Any) -> None:
        rule: Dict[str, Any] = {"match": literal(name)}
        if expect is None:
            rule["skip"] = True
        else:
            rule["expect"] = expect
        rule.update(extra)
        rules.setdefault(name, rule)

    # remove_duplicate=False: a module used twice has its tensors under both names in the
    # state_dict (the second are tied to the first, but each name needs its rule).
    for prefix, m in module.named_modules(remove_duplicate=False):
        p = prefix + "." if prefix else ""
        own = dict(m.named_parameters(recurse=False))
        own.update(dict(m.named_buffers(recurse=False)))
        if isinstance(m, nn.Transformer):
            for name, t in m.named_parameters():
                if t.dim() > 1:
                    add(p + name, "xavier_uniform")
        if isinstance(m, nn.MultiheadAttention):
            for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
                if own.get(name) is not None:
                    add(p + name, "xavier_uniform")
            if own.get("in_proj_bias") is not None:
                add(p + "in_proj_bias", "zeros")
                if m.out_proj.bias is not None:
                    add(p + "out_proj.bias", "zeros")
            for name in ("bias_k", "bias_v"):
                if own.get(name) is not None:
                    add(p + name, "xavier_normal")
        elif isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
            weight = own.get("weight")
            if weight is not None and weight.numel() > 0:
                add(p + "weight", "torch_linear")
                if own.get("bias") is not None:
                    fan_in = _verinit.fans(list(weight.shape), "torch")[0]
                    add(p + "bias", _uniform(_bound(fan_in)))
        elif isinstance(m, nn.Bilinear):
            bound = 1 / math.sqrt(m.weight.size(1))
            add(p + "weight", _uniform(bound))
            if m.bias is not None:
                add(p + "bias", _uniform(bound))
        elif isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
            extra = {} if m.padding_idx is None else {"zero_rows": [int(m.padding_idx)]}
            add(p + "weight", "normal", **extra)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._NormBase)):
            for name, expect in (("weight", "ones"), ("bias", "zeros"), ("running_mean", "zeros"),
                                 ("running_var", "ones"), ("num_batches_tracked", None)):
                if own.get(name) is not None:
                    add(p + name, expect)
        elif isinstance(m, (nn.RNNBase, nn.RNNCellBase)):
            spec = _uniform(_bound(m.hidden_size))
            for name in own:
                add(p + name, spec)
        elif isinstance(m, nn.PReLU):
            add(p + "weight", "constant(value=0.25)")
    # Integer and bool tensors are never weights (MaxViT's relative_position_index, counters):
    # skipped, and listed as skipped, whatever module holds them.
    for name, t in module.state_dict(keep_vars=True).items():
        if not t.is_floating_point():
            add(name)
    return list(rules.values())


def apply_(
    module: "_torch.nn.Module",
    rules: Any = None,
    *,
    layout: str = "torch",
    seed: int = 0,
    threads: int = 0,
) -> "_torch.nn.Module":
    """Initialises every floating-point tensor of `module.state_dict()` by the first rule that
    matches its name (rules as :func:`verinit.verify_model` takes them; None: the module's
    :func:`default_rules`) and returns the module. A rule with ``skip = true`` leaves its
    tensor alone; a ``zero_rows`` rule zeroes those rows after sampling. Each tensor's seed is
    derived from `seed` and its name (see verinit._model.tensor_seed), so adding a layer does
    not change the others. Tied tensors are filled once. Raises ValueError naming a tensor no
    rule matches (nothing is left silently uninitialised)."""
    who = "apply_"
    table = load_rules(default_rules(module) if rules is None else rules)
    state = module.state_dict(keep_vars=True)
    shapes = {name: list(t.shape) for name, t in state.items()}
    seen = set()
    for name, t in state.items():
        key = (t.data_ptr(), t.dtype, tuple(t.shape))
        if t.numel() and key in seen:  # tied to one already initialised (or skipped)
            continue
        seen.add(key)
        rule = table.match(name)
        if rule is None:
            raise ValueError(f"{who}: no rule matches tensor '{name}' (add one, or skip = true)")
        if rule.get("skip"):
            continue
        if not t.is_floating_point():
            raise ValueError(
                f"{who}: tensor '{name}' is {t.dtype}, not a weight: its rule "
                f"'{rule['match']}' must say skip = true"
            )
        rows = rule.get("zero_rows", [])
        height = t.shape[0] if t.dim() else 1
        bad = [r for r in rows if not -height <= r < height]
        if bad:
            raise ValueError(f"{who}: zero_rows {bad} of rule '{rule['match']}' are outside "
                             f"tensor '{name}''s {height} rows")
        rule_layout = rule.get("layout", table.layout or layout)
        init_(
            t,
            rule["expect"],
            layout=rule_layout,
            seed=tensor_seed(check_seed(seed, who), name),
            threads=threads,
            fans_from=table.fans_shape(name, rule_layout, shapes),
        )
        for row in rows:
            with _torch.no_grad():
                t[row].zero_()
    return module
