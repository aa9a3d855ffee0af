"""Record the laws a model's own code applies while it is built: ``verinit.torch.record()``.

Inside the context, a ``torch.overrides.TorchFunctionMode`` sees every Tensor method and torch
function the code calls, and the public ``torch.nn.init`` functions are wrapped (in torch 1.13
only uniform_, normal_, constant_ and kaiming_uniform_ dispatch through
``__torch_function__``; the others are seen only by the ops inside them). For each storage
the code writes, the record keeps the law of its last write (see ``_laws``), keyed by the
storage's address; a new allocation at an address replaces what was recorded there, so a freed
temporary never lends its law to a later tensor. Nothing is copied: the record holds laws,
never values, and no reference to a tensor.

After the context, ``Record.laws(model)`` gives each tensor of ``model.state_dict()`` its law,
``Record.rules(model)`` the rules ``verinit.verify_model`` takes, and ``Record.to_toml(model)``
the same rules as a TOML file for the command line (``verinit verify --rules``), each with the
call that set the law and its call site as a comment.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import sys
import threading
import weakref
from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

import torch as _torch
from torch.overrides import TorchFunctionMode, _no_torch_function_mode

from .. import _verinit
from .._model import _toml_value
from . import _laws
from ._laws import (COMPUTED, CONSTANT, DERIVED, RANDOM, UNINITIALISED, UNRECORDABLE, Law, affine,
                    clamped, constant_law, erfinv_of, normal_law, number, uniform_law)

__all__ = ["record", "Record", "find_record"]

_INIT_FILE = os.path.normcase(os.path.abspath(_torch.nn.init.__file__))
_OVERRIDES_FILE = os.path.normcase(os.path.abspath(sys.modules["torch.overrides"].__file__))
_OWN_DIR = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MODULE_FILE = os.path.normcase(os.path.abspath(sys.modules["torch.nn.modules.module"].__file__))
_SKIP_FILES = {_INIT_FILE, _OVERRIDES_FILE, _MODULE_FILE}


def _site() -> str:
    """file:line of the innermost frame outside torch.nn.init, torch.overrides and verinit."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        skip = _SKIPPED_CODE.get(code)
        if skip is None:
            path = os.path.normcase(code.co_filename)
            skip = _SKIPPED_CODE[code] = path in _SKIP_FILES or path.startswith(_OWN_DIR)
        if not skip:
            return f"{_short_path(code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


_SKIPPED_CODE: Dict[Any, bool] = {}


@functools.lru_cache(maxsize=4096)
def _short_path(path: str) -> str:
    # Relative to the installation it comes from: torchvision/models/resnet.py.
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        at = path.rfind(marker)
        if at >= 0:
            return path[at + len(marker):]
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def _arguments(args: tuple, kwargs: dict, names: Tuple[str, ...], defaults: tuple) -> list:
    """The positional-or-keyword arguments `names` after the tensor, defaults filled in."""
    values = list(defaults)
    for i, value in enumerate(args[: len(names)]):
        values[i] = value
    for i, name in enumerate(names):
        if name in kwargs:
            values[i] = kwargs[name]
    return values


def _written(names: Tuple[str, ...], defaults: tuple, values: list) -> str:
    """The arguments that differ from their defaults, as a call writes them."""
    parts = []
    for name, default, value in zip(names, defaults, values):
        if value != default:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _scalar(value: Any) -> Optional[float]:
    """A Python number (or a 0-dim tensor's value) as float; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _torch.Tensor) and value.dim() == 0 and value.numel() == 1:
        return float(value.item())
    return None


# torch.nn.init's public functions: (argument names after the tensor, their defaults) and the
# law they set, from torch/nn/init.py (1.13).
_INIT_SIGNATURES = {
    "uniform_": (("a", "b"), (0.0, 1.0)),
    "normal_": (("mean", "std"), (0.0, 1.0)),
    "trunc_normal_": (("mean", "std", "a", "b"), (0.0, 1.0, -2.0, 2.0)),
    "constant_": (("val",), (None,)),
    "ones_": ((), ()),
    "zeros_": ((), ()),
    "eye_": ((), ()),
    "dirac_": (("groups",), (1,)),
    "xavier_uniform_": (("gain",), (1.0,)),
    "xavier_normal_": (("gain",), (1.0,)),
    "kaiming_uniform_": (("a", "mode", "nonlinearity"), (0, "fan_in", "leaky_relu")),
    "kaiming_normal_": (("a", "mode", "nonlinearity"), (0, "fan_in", "leaky_relu")),
    "orthogonal_": (("gain",), (1,)),
    "sparse_": (("sparsity", "std"), (None, 0.01)),
}


def _init_law(name: str, tensor: "_torch.Tensor", values: list, call: str, site: str) -> Law:
    shape = tuple(tensor.shape)
    where = dict(call=call, site=site, shape=shape)
    if name == "uniform_":
        return uniform_law(values[0], values[1], **where)
    if name == "normal_":
        return normal_law(values[0], values[1], **where)
    if name == "trunc_normal_":
        return _laws.truncated_normal_law(*[float(v) for v in values], **where)
    if name == "constant_":
        return constant_law(values[0], **where)
    if name == "ones_":
        return constant_law(1.0, **where)
    if name == "zeros_":
        return constant_law(0.0, **where)
    if name == "eye_":
        return Law(RANDOM, "eye", params=("eye",), **where)
    if name == "dirac_":
        return Law(RANDOM, f"dirac(groups={int(values[0])})", params=("dirac",), **where)
    if name == "orthogonal_":
        return Law(RANDOM, f"orthogonal(gain={number(values[0])})",
                   params=("orthogonal", float(values[0])), **where)
    if name == "sparse_":
        return Law(RANDOM, f"sparse(sparsity={number(values[0])},std={number(values[1])})",
                   params=("sparse",), **where)
    scheme = name[:-1]
    if scheme.startswith("xavier"):
        return Law(RANDOM, f"{scheme}(gain={number(values[0])})",
                   fan_scheme=(scheme, float(values[0])), **where)
    a, mode, nonlinearity = values
    return Law(RANDOM, f"{scheme}(a={number(a)},mode={mode},nonlinearity={nonlinearity})",
               fan_scheme=(scheme, float(a), mode, nonlinearity), **where)


# Ops that give a new storage holding the same values (or a subset, or a reordering): the
# law of an i.i.d. tensor carries over; a structured one (orthogonal, eye, dirac, sparse) only
# through a copy of the same shape.
_SAME_VALUES = {"clone", "contiguous", "detach", "to", "type", "float", "double", "half",
                "bfloat16", "cpu", "cuda", "type_as", "view", "reshape", "flatten", "t",
                "transpose", "permute", "squeeze", "unsqueeze", "__getitem__", "narrow",
                "select", "view_as", "reshape_as", "expand", "expand_as", "detach_",
                "requires_grad_", "share_memory_", "retain_grad", "pin_memory"}
# Ops that neither write nor make a tensor: passed over at once.
_READERS = frozenset({"", "__get__", "__set__", "dim", "size", "numel", "stride", "storage_offset",
                      "is_floating_point", "is_complex", "data_ptr", "element_size", "nelement",
                      "ndimension", "is_contiguous", "item", "tolist", "__len__", "__bool__",
                      "__format__", "__repr__", "__hash__", "__eq__", "__ne__", "dtype",
                      "shape", "device", "__iter__", "is_leaf", "requires_grad", "grad_fn",
                      "has_names", "__reduce_ex__", "get_device"})
# In-place methods that change no value.
_NO_WRITE = {"requires_grad_", "share_memory_", "retain_grad", "detach_", "pin_memory"}
# Factories: law of a fresh tensor.
_UNINITIALISED = {"empty", "empty_like", "new_empty", "new", "empty_strided", "new_empty_strided"}
_ZEROS = {"zeros", "zeros_like", "new_zeros"}
_ONES = {"ones", "ones_like", "new_ones"}
_FULL = {"full", "full_like", "new_full"}
_RANDN = {"randn", "randn_like"}
_RAND = {"rand", "rand_like"}
# Scalar arithmetic: (scale, shift) of the result as a function of the number s.
_ARITHMETIC = {
    "mul": lambda s: (s, 0.0), "__mul__": lambda s: (s, 0.0), "__rmul__": lambda s: (s, 0.0),
    "mul_": lambda s: (s, 0.0), "__imul__": lambda s: (s, 0.0),
    "div": lambda s: (1.0 / s, 0.0), "__truediv__": lambda s: (1.0 / s, 0.0),
    "div_": lambda s: (1.0 / s, 0.0), "__itruediv__": lambda s: (1.0 / s, 0.0),
    "add": lambda s: (1.0, s), "__add__": lambda s: (1.0, s), "__radd__": lambda s: (1.0, s),
    "add_": lambda s: (1.0, s), "__iadd__": lambda s: (1.0, s),
    "sub": lambda s: (1.0, -s), "__sub__": lambda s: (1.0, -s), "sub_": lambda s: (1.0, -s),
    "__isub__": lambda s: (1.0, -s), "__rsub__": lambda s: (-1.0, s),
}
_UNARY = {"neg": (-1.0, 0.0), "__neg__": (-1.0, 0.0), "neg_": (-1.0, 0.0),
          "__pos__": (1.0, 0.0)}


def _key(tensor: "_torch.Tensor") -> Tuple[int, int]:
    storage = tensor._storage()  # untyped: ~1 us, where storage() builds a TypedStorage
    return storage.data_ptr(), storage.nbytes()


def _whole(tensor: "_torch.Tensor") -> bool:
    """Whether the tensor is all of its storage, each element once."""
    if tensor.storage_offset() != 0:
        return False
    if tensor.numel() * tensor.element_size() != tensor._storage().nbytes():
        return False
    if tensor.is_contiguous():
        return True
    # Dense: the strides of some permutation of a contiguous layout.
    dims = sorted((s, d) for s, d in zip(tensor.stride(), tensor.shape) if d != 1)
    expected = 1
    for stride, size in dims:
        if stride != expected:
            return False
        expected *= size
    return True


def _row_of(tensor: "_torch.Tensor", law: Law) -> Optional[int]:
    """The row of the storage's recorded shape that `tensor` is, or None."""
    shape = law.shape
    if len(shape) < 1 or tuple(tensor.shape) != tuple(shape[1:]) or not tensor.is_contiguous():
        return None
    row = math.prod(shape[1:])
    offset = tensor.storage_offset()
    if row == 0 or offset % row:
        return None
    return offset // row


class Record:
    """The laws recorded while a model was built (see the module's docstring)."""

    def __init__(self) -> None:
        self._laws: Dict[Tuple[int, int], Law] = {}
        self._modules: "weakref.WeakSet[_torch.nn.Module]" = weakref.WeakSet()
        self.ops = 0  # Tensor ops and torch functions seen

    # -- what the context calls -----------------------------------------------------------

    def _set(self, tensor: "_torch.Tensor", law: Law) -> None:
        if tensor.numel() == 0:
            return
        self._laws[_key(tensor)] = law

    def _law_of(self, tensor: "_torch.Tensor") -> Optional[Law]:
        if not isinstance(tensor, _torch.Tensor) or tensor.numel() == 0:
            return None
        return self._laws.get(_key(tensor))

    def _write(self, tensor: "_torch.Tensor", law: Optional[Law], op: str, site: str) -> None:
        """`tensor` (all of its storage, or a part) was written with values of `law` (None:
        values verinit cannot state)."""
        if tensor.numel() == 0:
            return
        if _whole(tensor):
            if law is None:
                law = Law(UNRECORDABLE, call=op, site=site, shape=tuple(tensor.shape))
            self._laws[_key(tensor)] = law
            return
        key = _key(tensor)
        before = self._laws.get(key)
        if before is None:
            return  # a part of a storage the record never saw allocated: not a weight's
        if law is not None and law.kind == CONSTANT and law.params == ("constant", 0.0) \
                and before.verifiable:
            row = _row_of(tensor, before)
            if row is not None:
                rows = tuple(sorted(set(before.zero_rows) | {row}))
                self._laws[key] = replace(before, zero_rows=rows)
                return
        if before.kind == COMPUTED and (law is None or law.kind in (CONSTANT, COMPUTED)):
            return  # deterministic values written into deterministic values
        self._laws[key] = Law(UNRECORDABLE, call=f"{before.describe()}; then {op} on a part of "
                              f"it", site=site, shape=before.shape)

    def observe(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        """Updates the record after the op `name` called with (args, kwargs) returned `out`."""
        first = args[0] if args else None
        inplace = (isinstance(first, _torch.Tensor) and name.endswith("_")
                   and not name.startswith("__") and name not in _NO_WRITE) or name in (
                       "__imul__", "__iadd__", "__isub__", "__itruediv__", "__setitem__")
        if inplace:
            self._in_place(name, first, args[1:], kwargs)
            return
        if name in _NO_WRITE:
            return
        outputs = _tensors_in(out)
        if not outputs:
            return
        inputs = [a for a in args if isinstance(a, _torch.Tensor)] + \
                 [v for v in kwargs.values() if isinstance(v, _torch.Tensor)]
        known = {_key(t) for t in inputs if t.numel()}
        fresh = [t for t in outputs if t.numel() and _key(t) not in known]
        if not fresh:
            return  # a view (or the input itself)
        site = ""
        law = self._out_of_place(name, first, args, kwargs, inputs)
        for t in fresh:
            value = law(t) if callable(law) else law
            if value is None:
                site = site or _site()
                value = Law(UNRECORDABLE, call=_op_text(name), site=site, shape=tuple(t.shape))
            self._set(t, value)

    def _out_of_place(self, name, first, args, kwargs, inputs):
        """The law of the fresh outputs of op `name` (a Law, a function of the output, or
        None)."""
        if name in _UNINITIALISED:
            site = _site()
            return lambda t: Law(UNINITIALISED, call=_op_text(name), site=site,
                                 shape=tuple(t.shape))
        if name in _ZEROS or name in _ONES or name in _FULL:
            value = 0.0 if name in _ZEROS else 1.0 if name in _ONES else _scalar(
                kwargs.get("fill_value", args[-1] if args else None))
            if value is None:
                return None
            site = _site()
            return lambda t: constant_law(value, call=_op_text(name), site=site,
                                          shape=tuple(t.shape))
        if name in _RANDN or name in _RAND:
            site = _site()
            maker = (lambda t: normal_law(0.0, 1.0, call=f"torch.{name}", site=site,
                                          shape=tuple(t.shape))) if name in _RANDN else (
                lambda t: uniform_law(0.0, 1.0, call=f"torch.{name}", site=site,
                                      shape=tuple(t.shape)))
            return maker
        laws = [self._law_of(t) for t in inputs]
        if isinstance(first, _torch.Tensor) and (name in _ARITHMETIC or name in _UNARY):
            source = self._law_of(first)
            if source is None:
                return None
            if name in _UNARY:
                scale, shift = _UNARY[name]
            else:
                operand = args[1] if len(args) > 1 else kwargs.get("other")
                s = _scalar(operand) if not (isinstance(operand, _torch.Tensor)
                                             and operand.dim() > 0) else None
                if s is None or (name.startswith(("div", "__truediv")) and s == 0):
                    return self._derived(laws, name)
                scale, shift = _ARITHMETIC[name](s)
            law = affine(source, scale, shift, _op_text(name, args), _site())
            return None if law is None else (lambda t: replace(law, shape=tuple(t.shape)))
        if name in _SAME_VALUES and isinstance(first, _torch.Tensor):
            source = self._law_of(first)
            if source is None:
                return None

            def carried(t: "_torch.Tensor") -> Optional[Law]:
                if tuple(t.shape) == tuple(first.shape) or source.kind == COMPUTED:
                    return replace(source, shape=tuple(t.shape)) \
                        if tuple(t.shape) == tuple(first.shape) else source
                if source.kind == CONSTANT or source.params is not None or \
                        source.fan_scheme is not None:
                    if source.params and source.params[0] in ("orthogonal", "eye", "dirac",
                                                              "sparse"):
                        return None
                    return replace(_laws.concrete(source), shape=tuple(t.shape),
                                         zero_rows=())
                return None
            return carried
        return self._derived(laws, name)

    def _derived(self, laws: List[Optional[Law]], name: str):
        """A new tensor from an op verinit does not model: from deterministic inputs, computed
        values; from sampled ones, derived values (a function of draws, not a draw: weight_norm's
        g = norm_except_dim(w)); from uninitialised or unstated ones, values it cannot state."""
        if all(law is not None and law.kind in (CONSTANT, COMPUTED) for law in laws):
            kind = COMPUTED
        elif all(law is not None and law.kind in (CONSTANT, COMPUTED, RANDOM, DERIVED)
                 for law in laws):
            kind = DERIVED
        else:
            return None
        site = _site()
        return lambda t: Law(kind, call=_op_text(name), site=site, shape=tuple(t.shape))

    def _in_place(self, name: str, tensor: "_torch.Tensor", rest: tuple, kwargs: dict) -> None:
        if not tensor.is_floating_point():
            if name not in ("__setitem__",):
                self._write(tensor, Law(COMPUTED, call=_op_text(name), shape=tuple(tensor.shape)),
                            name, "")
            return
        site = _site()
        shape = tuple(tensor.shape)
        where = dict(call=_op_text(name, (tensor,) + rest, kwargs), site=site, shape=shape)
        before = self._law_of(tensor)
        law: Optional[Law] = None
        if name == "normal_":
            mean, std = _arguments(rest, kwargs, ("mean", "std"), (0.0, 1.0))
            law = normal_law(float(mean), float(std), **where)
        elif name == "uniform_":
            a, b = _arguments(rest, kwargs, ("from", "to"), (0.0, 1.0))
            law = uniform_law(float(a), float(b), **where)
        elif name == "zero_":
            law = constant_law(0.0, **where)
        elif name == "fill_":
            value = _scalar(rest[0] if rest else kwargs.get("value"))
            law = None if value is None else constant_law(value, **where)
        elif name == "copy_" or name == "__setitem__":
            # t.copy_(src), t[key] = value: the written part (the whole of t for copy_, the
            # indexed part for t[key]) takes a number's constant law, or a tensor's law.
            src = (rest[1] if len(rest) > 1 else None) if name == "__setitem__" else (
                rest[0] if rest else kwargs.get("src"))
            if name == "__setitem__":
                key = rest[0]
                parts = key if isinstance(key, tuple) else (key,)
                if any(isinstance(k, (_torch.Tensor, list, bool)) for k in parts):
                    # Advanced indexing: which elements were written is not a view to key on.
                    self._write(tensor, None, "Tensor.__setitem__ by an index tensor", site)
                    return
                tensor = tensor[key]  # the part written (a view)
                where["shape"] = tuple(tensor.shape)
            value = _scalar(src)
            source = self._law_of(src) if isinstance(src, _torch.Tensor) else None
            if value is not None and not (isinstance(src, _torch.Tensor) and src.numel() > 1):
                law = constant_law(value, **where)
            elif source is not None and source.kind in (COMPUTED, DERIVED):
                law = replace(source, shape=tuple(tensor.shape))
            elif source is not None and _whole(src) and src.numel() == tensor.numel():
                law = source if tuple(src.shape) == tuple(tensor.shape) else replace(
                    _laws.concrete(source), shape=tuple(tensor.shape))
        elif name in _ARITHMETIC or name in _UNARY:
            if before is not None:
                if name in _UNARY:
                    scale, shift = _UNARY[name]
                    law = affine(before, scale, shift, where["call"], site)
                else:
                    operand = rest[0] if rest else kwargs.get("other")
                    s = _scalar(operand) if not (isinstance(operand, _torch.Tensor)
                                                 and operand.dim() > 0) else None
                    if s is not None and not (name.startswith(("div", "__itruediv")) and s == 0):
                        scale, shift = _ARITHMETIC[name](s)
                        alpha = kwargs.get("alpha")
                        if alpha is not None and name in ("add_", "sub_"):
                            shift *= float(alpha)
                        law = affine(before, scale, shift, where["call"], site)
                    elif before.kind in (CONSTANT, COMPUTED) and (
                            not isinstance(operand, _torch.Tensor)
                            or (self._law_of(operand) or Law(UNRECORDABLE)).kind in (CONSTANT,
                                                                                     COMPUTED)):
                        law = Law(COMPUTED, **where)
        elif name == "erfinv_":
            if before is not None:
                law = erfinv_of(before, where["call"], site)
        elif name in ("clamp_", "clip_", "clamp_min_", "clamp_max_"):
            if before is not None:
                if name == "clamp_min_":
                    lo, hi = _scalar(rest[0] if rest else kwargs.get("min")), None
                elif name == "clamp_max_":
                    lo, hi = None, _scalar(rest[0] if rest else kwargs.get("max"))
                else:
                    lo, hi = _arguments(rest, kwargs, ("min", "max"), (None, None))
                    lo = None if lo is None else _scalar(lo)
                    hi = None if hi is None else _scalar(hi)
                law = clamped(before, lo, hi, where["call"], site)
        elif before is not None and before.kind in (CONSTANT, COMPUTED) and all(
                not isinstance(a, _torch.Tensor) or (self._law_of(a) or Law(UNRECORDABLE)).kind
                in (CONSTANT, COMPUTED) for a in rest):
            law = Law(COMPUTED, **where)  # deterministic in, deterministic out
        elif before is not None and before.kind == DERIVED:
            law = replace(before, call=f"{before.call}; {where['call']}", site=site)
        self._write(tensor, law, where["call"], site)

    def _init_call(self, name: str, tensor: Any, args: tuple, kwargs: dict) -> None:
        """After torch.nn.init.<name>(tensor, *args, **kwargs) returned."""
        if not isinstance(tensor, _torch.Tensor) or tensor.numel() == 0:
            return
        names, defaults = _INIT_SIGNATURES[name]
        values = _arguments(args, kwargs, names, defaults)
        call = f"nn.init.{name}({_written(names, defaults, values)})"
        site = _site()
        try:
            law = _init_law(name, tensor, values, call, site)
        except (ValueError, TypeError) as error:  # arguments that are not numbers
            law = Law(UNRECORDABLE, call=f"{call}: {error}", site=site, shape=tuple(tensor.shape))
        self._write(tensor, law, call, site)

    # -- what users call ------------------------------------------------------------------

    def covers(self, module: "_torch.nn.Module") -> bool:
        """Whether `module` was built under this record."""
        return module in self._modules

    def laws(self, module: Any) -> Dict[str, Optional[Law]]:
        """tensor name -> its recorded law (None: never written under the record), for every
        tensor of `module.state_dict()` (or of a dict of name -> tensor)."""
        state = module.state_dict(keep_vars=True) if isinstance(module, _torch.nn.Module) \
            else module
        out: Dict[str, Optional[Law]] = {}
        with _torch._C.DisableTorchFunction():
            for name, t in state.items():
                law = self._laws.get(_key(t)) if t.numel() else None
                if law is not None and not _whole(t) and law.kind == RANDOM and law.params \
                        and law.params[0] in ("orthogonal", "eye", "dirac", "sparse"):
                    law = None  # a part of a structured law is not that law
                if law is not None and tuple(t.shape) != law.shape and law.fan_scheme:
                    law = _laws.concrete(law)
                out[name] = law
        return out

    def rules(self, module: Any) -> Tuple[List[Dict[str, Any]], List[str]]:
        """(rules, notes): a rule per tensor of `module.state_dict()` with a verifiable law
        (exact names, as verify_model takes them), ``skip`` rules for integer/bool tensors and
        computed values, none for an uninitialised or unrecordable tensor (it fails the run
        as unmatched), and a note per tensor that is not verified or fails that way."""
        from ._defaults import literal

        state = module.state_dict(keep_vars=True) if isinstance(module, _torch.nn.Module) \
            else module
        rules: List[Dict[str, Any]] = []
        notes: List[str] = []
        for name, law in self.laws(state).items():
            t = state[name]
            rule: Dict[str, Any] = {"match": literal(name)}
            if not t.is_floating_point():
                rule["skip"] = True
                rule["_why"] = f"{t.dtype}, not a weight"
            elif t.numel() == 0:
                rule["skip"] = True
                rule["_why"] = "empty"
            elif law is None:
                notes.append(f"tensor '{name}': not written while verinit.torch.record() was "
                             "recording (made before it, or by code it does not see)")
                continue
            elif law.kind in (UNINITIALISED, UNRECORDABLE):
                what = ("allocated and never written" if law.kind == UNINITIALISED
                        else "written by an op whose law verinit cannot state")
                notes.append(f"tensor '{name}': {what}: {law.describe()}")
                continue
            elif law.kind == COMPUTED:
                rule["skip"] = True
                rule["_why"] = f"computed, not sampled: {law.describe()}"
            elif law.kind == DERIVED:
                rule["skip"] = True
                rule["_why"] = f"derived from sampled tensors, not sampled: {law.describe()}"
                notes.append(f"tensor '{name}': not verified: {rule['_why']}")
            else:
                try:
                    _verinit.canonical(law.spec)
                except ValueError as error:  # a law verinit cannot state (std = 0, ...)
                    notes.append(f"tensor '{name}': {law.describe()} gives {law.spec}, which "
                                 f"verinit cannot verify: {error}")
                    continue
                rule["expect"] = law.spec
                if law.zero_rows:
                    rule["zero_rows"] = list(law.zero_rows)
                rule["origin"] = law.describe()  # shown in reports beside the law
            rules.append(rule)
        return rules, notes

    def to_toml(self, module: Any) -> str:
        """The rules of :meth:`rules` as a TOML document for ``verinit verify --rules``, each
        rule with the call that set its law and the call site (its ``origin``, which reports
        show beside the law; a skipped tensor's reason as a comment); tensors that fail
        (uninitialised, unrecordable) listed as comments at the top."""
        rules, notes = self.rules(module)
        lines = ["# Laws recorded by verinit.torch.record() while the model was built.",
                 "# Each rule: the law, and the call that set it with its site (origin).",
                 'layout = "torch"']
        lines += [f"# FAILS: {note}" for note in notes]
        for rule in rules:
            lines.append("")
            why = rule.get("_why")
            if why:
                lines.append(f"# {why}")
            lines.append("[[rule]]")
            for key, value in rule.items():
                if key != "_why":
                    lines.append(f"{key} = {_toml_value(value, key)}")
        return "\n".join(lines) + "\n"


def _tensors_in(out: Any) -> List["_torch.Tensor"]:
    if isinstance(out, _torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, _torch.Tensor)]
    return []


def _op_text(name: str, args: tuple = (), kwargs: Optional[dict] = None) -> str:
    numbers = [number(a) for a in args[1:] if isinstance(a, (int, float))
               and not isinstance(a, bool)]
    numbers += [f"{k}={number(v)}" for k, v in (kwargs or {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
    head = f"Tensor.{name}" if not name.startswith("__") else name
    return f"{head}({', '.join(numbers)})"


def _call_and_observe(rec: Record, state: "_State", func, args, kwargs) -> Any:
    """What a mode does with each op: call it, then record what it wrote (not for ops that
    only read, nor on another thread)."""
    kwargs = kwargs or {}
    out = func(*args, **kwargs)
    name = getattr(func, "__name__", "")
    if name not in _READERS and state.thread == threading.get_ident():
        rec.ops += 1
        with _torch._C.DisableTorchFunction():
            rec.observe(name, args, kwargs, out)
    return out


class _Mode(TorchFunctionMode):
    def __init__(self, record: Record, state: "_State") -> None:
        super().__init__()
        self._record = record
        self._state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return _call_and_observe(self._record, self._state, func, args, kwargs)


class _DirectMode:
    """The same as _Mode, set as torch 1.13's one C++-level function mode directly: torch's own
    mode stack enters and leaves each mode through a contextlib manager in Python, which
    costs more per op than the recording. It is also pushed on torch's Python-level mode stack,
    so that Python functions that dispatch through handle_torch_function (which pops the
    stack's top mode and calls it) find it; after such a call torch's stack mode is the C++
    one again (correct, slower) until a wrapped torch.nn.init call puts this one back. Used
    where torch has these hooks and no other mode is on."""

    def __init__(self, record: Record, state: "_State") -> None:
        self._record = record
        self._state = state

    def __torch_function__(self, func, types, args=(), kwargs=None):
        _set_mode(None)
        try:
            return _call_and_observe(self._record, self._state, func, args, kwargs)
        finally:
            _set_mode(self)


_set_mode = getattr(_torch._C, "_set_torch_function_mode", None)
_stack_length = getattr(_torch._C, "_len_torch_function_stack", None)
_push_stack = getattr(_torch._C, "_push_on_torch_function_stack", None)
_pop_stack = getattr(_torch._C, "_pop_torch_function_stack", None)
_DIRECT = None not in (_set_mode, _stack_length, _push_stack, _pop_stack)


class _State:
    def __init__(self) -> None:
        self.depth = 0  # inside a wrapped torch.nn.init call
        self.mode: Any = None  # the function mode recording
        self.thread = threading.get_ident()


# Finished records, newest last; verify_model finds a model's record here.
_RECORDS: "collections.deque[Record]" = collections.deque(maxlen=64)
_LOCK = threading.Lock()


def find_record(module: Any) -> Optional[Record]:
    """The newest finished record under which `module` was built, or None."""
    for rec in reversed(_RECORDS):
        if rec.covers(module):
            return rec
    return None


class record:
    """Context manager: records the law of every storage the code inside it writes (see the
    module's docstring). ``with verinit.torch.record() as rec: model = build()``; then
    ``verinit.verify_model(model)`` verifies it against those laws, ``rec.to_toml(model)``
    writes them as rules. One record at a time, on the thread that opened it."""

    def __init__(self) -> None:
        self.record = Record()
        self._state = _State()
        self._saved: Dict[str, Any] = {}
        self._mode: Optional[_Mode] = None

    def __enter__(self) -> Record:
        if not _LOCK.acquire(blocking=False):
            raise RuntimeError("verinit.torch.record(): another record is open (records do not "
                               "nest)")
        state, rec = self._state, self.record
        init = _torch.nn.init
        for name in _INIT_SIGNATURES:
            original = getattr(init, name)
            self._saved[name] = original
            setattr(init, name, _wrap_init(name, original, rec, state))
        module_init = _torch.nn.Module.__init__
        self._saved["Module.__init__"] = module_init

        @functools.wraps(module_init)
        def tracked_init(module, *args, **kwargs):
            module_init(module, *args, **kwargs)
            rec._modules.add(module)

        _torch.nn.Module.__init__ = tracked_init
        setitem = _torch.Tensor.__setitem__
        self._saved["Tensor.__setitem__"] = setitem

        def recorded_setitem(tensor, key, value):
            if state.thread != threading.get_ident():
                return setitem(tensor, key, value)
            with _no_mode(state), _torch._C.DisableTorchFunction():
                setitem(tensor, key, value)
                rec.ops += 1
                rec.observe("__setitem__", (tensor, key, value), {}, None)

        _torch.Tensor.__setitem__ = recorded_setitem
        if _DIRECT and _stack_length() == 0:
            self._mode = _DirectMode(rec, state)
            _push_stack(self._mode)
            _set_mode(self._mode)
        else:
            self._mode = _Mode(rec, state)
            self._mode.__enter__()
        state.mode = self._mode
        return rec

    def __exit__(self, *exc) -> None:
        try:
            if isinstance(self._mode, _DirectMode):
                _pop_stack()
                _set_mode(None)
            else:
                self._mode.__exit__(*exc)
        finally:
            _torch.nn.Module.__init__ = self._saved.pop("Module.__init__")
            _torch.Tensor.__setitem__ = self._saved.pop("Tensor.__setitem__")
            for name, original in self._saved.items():
                setattr(_torch.nn.init, name, original)
            self._saved.clear()
            _RECORDS.append(self.record)
            _LOCK.release()


class _no_mode:
    """No function mode inside: the direct one put back after, or torch's own."""

    def __init__(self, state: "_State") -> None:
        self._mode = state.mode

    def __enter__(self):
        if isinstance(self._mode, _DirectMode):
            _set_mode(None)
        else:
            self._inner = _no_torch_function_mode()
            self._inner.__enter__()

    def __exit__(self, *exc):
        if isinstance(self._mode, _DirectMode):
            _set_mode(self._mode)
        else:
            self._inner.__exit__(*exc)


def _wrap_init(name: str, original: Any, rec: Record, state: _State):
    @functools.wraps(original)
    def recorded(tensor, *args, **kwargs):
        if state.depth or state.thread != threading.get_ident():
            return original(tensor, *args, **kwargs)
        # The ops inside are not recorded (the call's law is): nor even seen, which saves the
        # mode's cost per op (torch 1.13's DisableTorchFunction leaves modes on).
        state.depth += 1
        try:
            with _no_mode(state), _torch._C.DisableTorchFunction():
                out = original(tensor, *args, **kwargs)
                rec._init_call(name, tensor, args, kwargs)
        finally:
            state.depth -= 1
        return out

    return recorded
