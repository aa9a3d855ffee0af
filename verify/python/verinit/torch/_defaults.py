"""verinit for PyTorch: fill tensors in place, sample torch tensors, initialise and verify whole
modules by PyTorch's own per-class defaults.

``init_`` writes into the tensor's memory (CPU, contiguous) with the GIL released, the same
bits as :func:`verinit.sample` with the same arguments; bfloat16 included, sampled at float64's
resolution and rounded once to nearest even (unlike PyTorch 1.13's bfloat16 ``normal_``,
which computes Box-Muller in bfloat16 and clips the tails near 3.3 sd).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as _np
import torch as _torch

from . import _verinit
from . import _check_seed, _check_shape, _check_text, _check_threads

__all__ = ["init_", "sample", "default_rules", "apply_"]

_NAMES = {
    _torch.float16: "float16",
    _torch.bfloat16: "bfloat16",
    _torch.float32: "float32",
    _torch.float64: "float64",
}
_TORCH = {name: dtype for dtype, name in _NAMES.items()}


def _dtype_name(tensor: "_torch.Tensor", who: str) -> str:
    name = _NAMES.get(tensor.dtype)
    if name is None:
        raise ValueError(
            f"{who}: the tensor is {tensor.dtype}, but must be torch.float16, torch.bfloat16, "
            "torch.float32 or torch.float64"
        )
    return name


def _numpy_view(tensor: "_torch.Tensor") -> _np.ndarray:
    """The CPU tensor's memory as numpy (bfloat16 as int16 bit patterns), shared, not copied."""
    t = tensor.detach()
    if t.dtype == _torch.bfloat16:
        t = t.view(_torch.int16)
    return t.numpy()


def _readable(tensor: "_torch.Tensor", who: str):
    """(numpy array, dtype name, note) of a tensor to verify; copies only what must be."""
    if not isinstance(tensor, _torch.Tensor):
        raise ValueError(f"{who}: expected a torch.Tensor, got {type(tensor).__name__}")
    name = _dtype_name(tensor, who)
    note = ""
    t = tensor.detach()
    if t.device.type != "cpu":
        note = f"copied from {t.device} to the CPU to verify"
        t = t.cpu()
    if not t.is_contiguous():
        t = t.contiguous()
    return _numpy_view(t), name, note


def init_(
    tensor: "_torch.Tensor",
    scheme: str,
    *,
    layout: str = "torch",
    seed: int = 0,
    threads: int = 0,
    fans_from: Optional[Sequence[int]] = None,
) -> "_torch.Tensor":
    """Fills `tensor` in place with `scheme` (fans from its shape in `layout`, or from the shape
    `fans_from`) and returns it. float16, bfloat16, float32 or float64; contiguous. A CUDA
    tensor is filled on the CPU and copied to its device (the same values). The same bits as
    ``verinit.sample(tensor.shape, scheme, dtype=..., seed=seed)``."""
    who = "init_"
    if not isinstance(tensor, _torch.Tensor):
        raise ValueError(f"{who}: expected a torch.Tensor, got {type(tensor).__name__}")
    name = _dtype_name(tensor, who)
    if not tensor.is_contiguous():
        raise ValueError(
            f"{who}: the tensor (shape {tuple(tensor.shape)}, strides {tensor.stride()}) is not "
            "contiguous, but must be (fill tensor.contiguous() and copy it back)"
        )
    args = (
        name,
        _check_text(scheme, "scheme", who),
        None if fans_from is None else _check_shape(fans_from, who),
        _check_text(layout, "layout", who),
        _check_seed(seed, who),
        _check_threads(threads, who),
    )
    if tensor.device.type != "cpu":
        host = _torch.empty(tensor.shape, dtype=tensor.dtype)
        _verinit.fill(_numpy_view(host), *args)
        with _torch.no_grad():
            tensor.copy_(host)
        return tensor
    _verinit.fill(_numpy_view(tensor), *args)
    return tensor


def sample(
    shape: Union[int, Sequence[int]],
    scheme: str,
    *,
    layout: str = "torch",
    dtype: "_torch.dtype" = _torch.float32,
    seed: int = 0,
    threads: int = 0,
) -> "_torch.Tensor":
    """A new CPU tensor of `shape` and `dtype` (torch.bfloat16 included) filled with
    `scheme`: :func:`verinit.sample`'s bits."""
    if dtype not in _NAMES:
        raise ValueError(
            f"sample: dtype is {dtype}, but must be torch.float16, torch.bfloat16, torch.float32 "
            "or torch.float64"
        )
    out = _torch.empty(_check_shape(shape, "sample"), dtype=dtype)
    return init_(out, scheme, layout=layout, seed=seed, threads=threads)


def _literal(name: str) -> str:
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
    every parameter of more than one dim with xavier_uniform. A rule of a parent module wins
    over its children's (MultiheadAttention's out_proj.bias, Transformer's re-init). Tensors
    of other module types get no rule, so verify_model lists them as unmatched.
    """
    nn = _torch.nn
    rules: Dict[str, Dict[str, Any]] = {}

    def add(name: str, expect: Optional[str] = None, **extra: Any) -> None:
        rule: Dict[str, Any] = {"match": _literal(name)}
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
    from ._model import load_rules, tensor_seed

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
            seed=tensor_seed(_check_seed(seed, who), name),
            threads=threads,
            fans_from=table.fans_shape(name, rule_layout, shapes),
        )
        for row in rows:
            with _torch.no_grad():
                t[row].zero_()
    return module
