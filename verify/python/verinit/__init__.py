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

import functools
import os
import sys
from typing import Any, Optional, Sequence, Union

import numpy as _np

from . import _verinit
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

#: The verifier's fixed default seed (the CLI's): a gate that is deterministic.
DEFAULT_SEED = 20261122

# numpy's storage of each dtype (bfloat16 as its bit patterns).
_STORAGE = {
    "float16": _np.float16,
    "bfloat16": _np.uint16,
    "float32": _np.float32,
    "float64": _np.float64,
}

PathLike = Union[str, "os.PathLike[str]"]


def _is_torch_tensor(x: Any) -> bool:
    # Without importing torch: a torch tensor exists only if torch was imported.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _is_torch_module(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.nn.Module)


def _check_dtype(dtype: str) -> str:
    if not isinstance(dtype, str) or dtype not in _STORAGE:
        raise ValueError(
            f"dtype is {dtype!r}, but must be one of 'float16', 'bfloat16', 'float32', 'float64'"
        )
    return dtype


def _check_seed(seed: Any, who: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, _np.integer)) or not (
        0 <= int(seed) < 2**64
    ):
        raise ValueError(f"{who}: seed is {seed!r}, but must be an integer in [0, 2^64)")
    return int(seed)


@functools.lru_cache(maxsize=1)
def _all_cores() -> int:
    # OMP_NUM_THREADS if it is a number, else the cores this process may run on (read once).
    # Not OpenMP's current default: importing torch sets that to its own thread count.
    text = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if text.isdigit() and 1 <= int(text) <= 4096:
        return int(text)
    try:
        return max(1, min(4096, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return max(1, min(4096, os.cpu_count() or 1))


def _check_threads(threads: Any, who: str) -> int:
    """threads in [0, 4096]; 0 becomes all cores (_all_cores). The result never depends on it."""
    if isinstance(threads, bool) or not isinstance(threads, (int, _np.integer)) or not (
        0 <= int(threads) <= 4096
    ):
        raise ValueError(
            f"{who}: threads is {threads!r}, but must be an integer in [0, 4096] (0: all cores)"
        )
    return int(threads) or _all_cores()


def _check_shape(shape: Any, who: str) -> list:
    if isinstance(shape, (int, _np.integer)):
        shape = (shape,)
    try:
        dims = [d for d in shape]
    except TypeError:
        raise ValueError(f"{who}: shape is {shape!r}, but must be a sequence of integers") from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, _np.integer)) or int(d) < 1:
            raise ValueError(
                f"{who}: shape is {tuple(shape)!r}, but every dim must be an integer >= 1"
            )
    if not dims:
        raise ValueError(f"{who}: shape is (), but must have at least one dim")
    return [int(d) for d in dims]


def _check_text(value: Any, name: str, who: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{who}: {name} is {value!r}, but must be a string")
    return value


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
    out = _np.empty(_check_shape(shape, "sample"), dtype=_STORAGE[_check_dtype(dtype)])
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
    if _is_torch_tensor(array):
        from . import torch as _vtorch

        return _vtorch.init_(array, scheme, layout=layout, seed=seed, threads=threads)
    who = "fill_"
    if dtype is not None:
        _check_dtype(dtype)
    try:
        memoryview(array)
    except TypeError:
        raise ValueError(f"{who}: a {type(array).__name__} is not an array (expected a writable "
                         "numpy array or buffer, or a torch tensor)") from None
    _verinit.fill(
        array,
        dtype or "",
        _check_text(scheme, "scheme", who),
        None,
        _check_text(layout, "layout", who),
        _check_seed(seed, who),
        _check_threads(threads, who),
    )
    return array


def _parse_memory(memory: Union[int, str]) -> int:
    """ "2G", "512M", "64K" (powers of 1024) or bytes, at least 1 MiB."""
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    bad = ValueError(
        f"verify: memory is {memory!r}, but must be a size such as '2G', '512M' or 1048576, "
        "at least 1M"
    )
    if isinstance(memory, bool):
        raise bad
    if isinstance(memory, (int, _np.integer)):
        value = float(memory)
    elif isinstance(memory, str):
        text = memory.strip().upper()
        suffix = text[-1:] if text[-1:] in scale and text[-1:] else ""
        try:
            value = float(text[: len(text) - len(suffix)]) * scale[suffix]
        except ValueError:
            raise bad from None
    else:
        raise bad
    if not (1 << 20 <= value < 9.2e18):
        raise bad
    return int(value)


def _as_input(data: Any, dtype: Optional[str], tensor: Optional[str], who: str):
    """(buffer or TensorFile, dtype text, source, note) for the C++ run."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        return _verinit.TensorFile.open(path, tensor or "", dtype or ""), "", path, ""
    if isinstance(data, _verinit.TensorFile):
        return data, dtype or "", "file", ""
    if tensor is not None:
        raise ValueError(f"{who}: tensor is {tensor!r}, but is used only with a file path")
    if _is_torch_tensor(data):
        from . import torch as _vtorch

        array, kind, note = _vtorch._readable(data, who)
        if dtype is not None and dtype != kind:
            raise ValueError(f"{who}: dtype is {dtype!r}, but the tensor is {kind}")
        return array, kind, "torch", note
    array = _np.asarray(data)
    if array.dtype.kind == "f" and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.c_contiguous:
        array = _np.ascontiguousarray(array)
    return array, dtype or "", "numpy", ""


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
    array, kind, source, note = _as_input(data, dtype, tensor, who)
    case = {
        "data": array,
        "dtype": kind,
        "expect": _check_text(expect, "expect", who),
        "shape": None if shape is None else _check_shape(shape, who),
        "layout": _check_text(layout, "layout", who),
        "source": source,
    }
    return _run([case], alpha=alpha, seed=seed, threads=threads, memory=memory, notes=[note])


def list_tensors(path: "str | os.PathLike[str]") -> list:
    """The tensors of a checkpoint (.safetensors, a sharded .safetensors.index.json, .npz, or
    a directory holding model.safetensors[.index.json]), as ``verinit list-tensors`` prints
    them: dicts of `name`, `dtype` (safetensors' spelling: "F32", "BF16", "I64"), `shape`,
    `bytes` and `weight` (a float tensor a rule can verify). Raises OSError for a file that
    cannot be read."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"list_tensors: path is a {type(path).__name__}, but must be a path")
    return _verinit.list_tensors(os.fspath(path))


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
    array, kind, _source, _note = _as_input(data, dtype, tensor, who)
    return _verinit.identify(array, kind, None if shape is None else _check_shape(shape, who),
                             _check_seed(seed, who), float(alpha), _check_threads(threads, who))


def _run(cases, *, alpha, seed, threads, memory, notes=None, model=None) -> Result:
    """One run of `cases` (or of a model: `model` = (rules, layout, source), `cases` its
    tensors or a checkpoint's path)."""
    who = "verify"
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"{who}: alpha is {alpha!r}, but must be a number in (0, 1)")
    options = (_check_seed(seed, who), float(alpha), _check_threads(threads, who),
               _parse_memory(memory))

    def call(summaries: bool):
        if model is None:
            return _verinit.verify_cases(cases, *options, summaries)
        if isinstance(cases, str):  # a checkpoint's path
            return _verinit.verify_model_path(cases, *model, *options, summaries)
        return _verinit.verify_model_cases(cases, *model, *options, summaries)

    # Without the samples' summaries (histogram, density, quantiles: 0.25 ms even for a small
    # tensor); a report asks for them, by running the same cases again with them.
    return Result(call(False), notes=notes, rerun=lambda: call(True))


def schemes() -> list:
    """The scheme catalogue: dicts of name, alias_of, formula, uses_fans (``verinit list``)."""
    return _verinit.schemes()


def canonical(scheme: str) -> str:
    """The canonical spelling of a scheme spec, every parameter written out."""
    return _verinit.canonical(_check_text(scheme, "scheme", "canonical"))


# Last: verinit._model uses the helpers above.
from ._model import verify_model  # noqa: E402
