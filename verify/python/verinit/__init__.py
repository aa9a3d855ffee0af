"""verinit: verified neural-network weight initializers, and a verifier of weights.

Sampling::

    w = verinit.sample((256, 512), "kaiming_normal", seed=1)   # numpy float32, C order
    verinit.fill_(array, "xavier_uniform(gain=1.5)")            # in place

Verification against a scheme's law (Kolmogorov-Smirnov, Anderson-Darling, moments, tails,
independence; Holm-Bonferroni over the run at a family-wise alpha)::

    result = verinit.verify(w, "kaiming_normal")
    result.passed, result.tests, result.to_dict(), result.write_report("report/")

Whole models: :func:`verify_model` (rules per tensor; ``verinit.torch.default_rules``).
PyTorch: :mod:`verinit.torch`. Test suites: :mod:`verinit.testing`.

The same scheme, shape, layout, dtype and seed give the same bits as ``verinit sample`` and the
C++ library, on any number of threads. bfloat16 arrays are numpy ``uint16`` arrays of the bit
patterns (numpy has no bfloat16); ``verinit.torch`` gives real ``torch.bfloat16`` tensors.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as _np

from . import _model, _verinit
from ._core import (DEFAULT_SEED, STORAGE, as_input, check_dtype, check_seed, check_shape,
                    check_text, check_threads, is_torch_module, is_torch_tensor, run)
from ._result import Case, Result, Test

__version__: str = _verinit.__version__

__all__ = [
    "__version__",
    "sample",
    "fill_",
    "verify",
    "verify_model",
    "identify",
    "list_tensors",
    "schemes",
    "canonical",
    "Result",
    "Case",
    "Test",
    "DEFAULT_SEED",
]

def sample(
    shape: Union[int, Sequence[int]],
    scheme: str,
    *,
    layout: str = "torch",
    dtype: str = "float32",
    seed: int = 0,
    threads: int = 0,
) -> _np.ndarray:
    """A new C-order array of `shape` filled with `scheme`.

    The same bits as ``verinit sample --shape ... --scheme ... --layout ... --dtype ...
    --seed ...`` and as :func:`fill_` on an array of that shape. `dtype` is "float32"
    (default), "float64", "float16" or "bfloat16" (returned as ``numpy.uint16`` bit patterns;
    ``verinit.torch.sample`` returns ``torch.bfloat16``). `threads` (0: all cores) never
    changes the result. Raises ValueError for a bad scheme, shape, layout, dtype, seed or
    threads, or a law the dtype cannot hold.
    """
    out = _np.empty(check_shape(shape, "sample"), dtype=STORAGE[check_dtype(dtype)])
    return fill_(out, scheme, layout=layout, seed=seed, threads=threads, dtype=dtype)


def fill_(
    array: Any,
    scheme: str,
    *,
    layout: str = "torch",
    seed: int = 0,
    threads: int = 0,
    dtype: Optional[str] = None,
) -> Any:
    """Fills `array` in place with `scheme` and returns it; equal to :func:`sample` of its
    shape and dtype with the same arguments.

    `array`: any writable C-contiguous buffer of float16, float32 or float64 (a numpy array),
    or of uint16/int16 bit patterns with ``dtype="bfloat16"`` (or "float16"); a torch tensor
    goes to :func:`verinit.torch.init_`. The fans come from the array's shape in `layout`.
    """
    if is_torch_tensor(array):
        from .torch import init_

        return init_(array, scheme, layout=layout, seed=seed, threads=threads)
    who = "fill_"
    if dtype is not None:
        check_dtype(dtype)
    try:
        memoryview(array)
    except TypeError:
        raise ValueError(f"{who}: a {type(array).__name__} is not an array (expected a writable "
                         "numpy array or buffer, or a torch tensor)") from None
    _verinit.fill(
        array,
        dtype or "",
        check_text(scheme, "scheme", who),
        None,
        check_text(layout, "layout", who),
        check_seed(seed, who),
        check_threads(threads, who),
    )
    return array


def verify(
    data: Any,
    expect: str,
    *,
    layout: str = "torch",
    shape: Optional[Sequence[int]] = None,
    dtype: Optional[str] = None,
    alpha: float = 1e-6,
    seed: int = DEFAULT_SEED,
    threads: int = 0,
    tensor: Optional[str] = None,
    memory: Union[int, str] = "2G",
) -> Result:
    """Tests `data` against the law of scheme `expect` and returns a :class:`Result`.

    `data`: a numpy array (float16/32/64, or uint16 bit patterns with ``dtype="bfloat16"``), a
    torch tensor (any float dtype, bfloat16 and float16 included; a CUDA tensor is copied to the
    CPU, with a note), or the path of an .npy file or a checkpoint (.safetensors,
    .safetensors.index.json, .npz; `tensor` names one of several). The fans come from `shape` (default: the data's shape) in `layout`; an i.i.d.
    scheme's data may be any number of elements. `alpha` is the run's family-wise error rate;
    `seed` only matters for tests that draw randomness (fixed default: deterministic).
    float32/float64 data whose every value lies on the bfloat16 or float16 grid is tested
    against the law rounded to that grid (said in the first test's note).

    Raises ValueError for bad arguments, OSError for a file that cannot be read.
    """
    who = "verify"
    array, kind, source, note = as_input(data, dtype, tensor, who)
    case = {
        "data": array,
        "dtype": kind,
        "expect": check_text(expect, "expect", who),
        "shape": None if shape is None else check_shape(shape, who),
        "layout": check_text(layout, "layout", who),
        "source": source,
    }
    return run([case], alpha=alpha, seed=seed, threads=threads, memory=memory, notes=[note])


def list_tensors(path: "str | os.PathLike[str]", *, key: Optional[str] = None) -> list:
    """The tensors of a checkpoint (.safetensors, a sharded .index.json, .npz, a torch.save
    file .pt/.pth/.bin/.ckpt read without executing it, or a directory holding
    model.safetensors[.index.json] or pytorch_model.bin[.index.json]), as ``verinit
    list-tensors`` prints them: dicts of `name`, `dtype` (safetensors' spelling: "F32",
    "BF16", "I64"), `shape`, `bytes`, `weight` (a float tensor a rule can verify), `tied_to`
    (a .pt tensor with the same elements as an earlier one: its name, else None) and
    `withheld` (why a .pt view is not verified, else None), and the reader's `notes` as the
    list's attribute. `key`: the key of a .pt training checkpoint's state_dict. Raises OSError for a file that cannot be read or that does
    anything but hold tensors."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"list_tensors: path is a {type(path).__name__}, but must be a path")
    tensors, notes = _verinit.list_tensors(os.fspath(path),
                                           check_text(key or "", "key", "list_tensors"))
    return TensorList(tensors, notes)


class TensorList(list):
    """:func:`list_tensors`' list, with the reader's `notes` (a .pt's values that are not
    tensors, skipped; a file written without checksums)."""

    def __init__(self, tensors: list, notes: list):
        super().__init__(tensors)
        self.notes: list = list(notes)


def identify(
    data: Any,
    *,
    shape: Optional[Sequence[int]] = None,
    dtype: Optional[str] = None,
    alpha: float = 1e-6,
    seed: int = DEFAULT_SEED,
    threads: int = 0,
    tensor: Optional[str] = None,
) -> list:
    """Which scheme made `data`? The catalogue's schemes (every fan scheme in torch's and
    Keras's layout, fan modes, gains, torch_linear, Keras's truncated variants, N(0, 0.02^2),
    the embeddings' defaults, zeros, ones), each verified against `data` like ``verify``,
    best first: those that pass, then by KS distance. Each entry is a dict with `scheme`,
    `layout`, `law`, `statistic` (KS D), `p_value`, `variance_ratio` and `passed`. `data`,
    `shape`, `dtype` and `tensor` as for :func:`verify` (the same as ``verinit identify``).

    Raises ValueError for bad arguments, OSError for a file that cannot be read.
    """
    who = "identify"
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"{who}: alpha is {alpha!r}, but must be a number in (0, 1)")
    array, kind, _source, _note = as_input(data, dtype, tensor, who)
    return _verinit.identify(array, kind, None if shape is None else check_shape(shape, who),
                             check_seed(seed, who), float(alpha), check_threads(threads, who))


def schemes() -> list:
    """The scheme catalogue: dicts of name, alias_of, formula, uses_fans (``verinit list``)."""
    return _verinit.schemes()


def canonical(scheme: str) -> str:
    """The canonical spelling of a scheme spec, every parameter written out."""
    return _verinit.canonical(check_text(scheme, "scheme", "canonical"))


def verify_model(
    source: Any,
    rules: Any = None,
    *,
    layout: str = "torch",
    alpha: float = 1e-6,
    seed: Optional[int] = None,
    threads: int = 0,
    memory: Any = "2G",
    key: Optional[str] = None,
) -> Result:
    """Verifies every tensor of a model against the law its rule names, in one run (one Holm
    family over every test of every tensor) and returns a :class:`verinit.Result` whose cases
    carry `tensor` and `rule`.

    `source`: a checkpoint path (.safetensors, a sharded .index.json, .npz, a torch.save file
    .pt/.pth/.bin/.ckpt, or a directory holding model.safetensors[.index.json] or
    pytorch_model.bin[.index.json]), a dict of name -> numpy array or torch tensor, or a
    torch.nn.Module (its state_dict). `rules`: a TOML path or string, or the same as Python
    data (see verinit._model). A .pt file is read by verinit's own reader, which evaluates its
    pickle as data and calls nothing; `key` names the state_dict in a training checkpoint
    (default: the root, else "state_dict", "model_state_dict", "model" or "module"). Pass the
    path rather than ``torch.load``'s result: before torch 2.6, ``torch.load`` runs code from
    the file even with ``weights_only=True`` (CVE-2025-32434), and a dict of torch tensors
    passed here with such a torch gets a warning saying so.

    A torch.nn.Module built under :func:`verinit.torch.record` is verified against the laws
    its own code applied (rules given here come first and win); with no record and no rules,
    against PyTorch's per-class defaults (:func:`verinit.torch.default_rules`), a failing
    tensor that another catalogue scheme fits then noted as probably re-initialised by the
    model's own code, with how to record it. Tensors the
    record saw allocated and never written, or written by an op whose law it cannot state,
    fail the run as unmatched, with a note naming the call and its site.

    A tensor no rule matches fails the run and is listed in `Result.unmatched`; integer and bool
    tensors must be skipped by their rule (else ValueError); tied tensors (one storage, two
    names) are verified once and listed in `Result.tied`; rows of a ``zero_rows`` rule are
    checked to be exactly zero as a case of their own, the other rows against the law.
    """
    notes: list = []
    defaults = False
    if isinstance(source, dict):
        _warn_torch_load(source)
    if is_torch_module(source):
        from .torch import model_rules

        rules, notes, defaults = model_rules(source, rules)
    result = _model.verify_model(source, rules, layout=layout, alpha=alpha, seed=seed,
                                 threads=threads, memory=memory, notes=notes, key=key)
    if defaults and not result.passed:
        from .torch import reinit_hints

        result.notes.extend(reinit_hints(result))
    return result


_warned_torch_load = False


def _warn_torch_load(source: dict) -> None:
    """Once per process: a dict of torch tensors may be torch.load's result, and torch < 2.6
    runs code from the file while loading it even with weights_only=True (CVE-2025-32434,
    fixed in torch 2.6.0; GHSA-53q9-r3pm-6pq6)."""
    global _warned_torch_load
    if _warned_torch_load or not any(is_torch_tensor(v) for v in source.values()):
        return
    import sys

    torch = sys.modules.get("torch")
    version = getattr(torch, "__version__", "")
    try:
        major, minor = (int(part) for part in version.split("+")[0].split(".")[:2])
    except ValueError:
        return
    if (major, minor) >= (2, 6):
        return
    _warned_torch_load = True
    import warnings

    warnings.warn(
        f"verify_model: if this dict came from torch.load, torch {version} (< 2.6) may have run "
        "code from the file while loading it, even with weights_only=True (CVE-2025-32434); "
        "pass the file's path instead: verinit reads .pt files as data, calling nothing",
        UserWarning, stacklevel=3)

