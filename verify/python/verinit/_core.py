"""The package's shared helpers: argument checks, the conversion of inputs to the views the
C++ core reads, and one run of the core. Every other module imports from here; this module
imports none of them but the extension and the result types."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any, Optional, Union

import numpy as _np

from . import _verinit
from ._result import Result

#: The verifier's fixed default seed (the CLI's): a gate that is deterministic.
DEFAULT_SEED = 20261122

# numpy's storage of each dtype (bfloat16 as its bit patterns).
STORAGE = {
    "float16": _np.float16,
    "bfloat16": _np.uint16,
    "float32": _np.float32,
    "float64": _np.float64,
}

def is_torch_tensor(x: Any) -> bool:
    # Without importing torch: a torch tensor exists only if torch was imported.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_torch_module(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.nn.Module)


def check_dtype(dtype: str) -> str:
    if not isinstance(dtype, str) or dtype not in STORAGE:
        raise ValueError(
            f"dtype is {dtype!r}, but must be one of 'float16', 'bfloat16', 'float32', 'float64'"
        )
    return dtype


def check_seed(seed: Any, who: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, _np.integer)) or not (
        0 <= int(seed) < 2**64
    ):
        raise ValueError(f"{who}: seed is {seed!r}, but must be an integer in [0, 2^64)")
    return int(seed)


@functools.lru_cache(maxsize=1)
def all_cores() -> int:
    # OMP_NUM_THREADS if it is a number, else the cores this process may run on (read once).
    # Not OpenMP's current default: importing torch sets that to its own thread count.
    text = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if text.isdigit() and 1 <= int(text) <= 4096:
        return int(text)
    try:
        return max(1, min(4096, len(os.sched_getaffinity(0))))
    except (AttributeError, OSError):
        return max(1, min(4096, os.cpu_count() or 1))


def check_threads(threads: Any, who: str) -> int:
    """threads in [0, 4096]; 0 becomes all cores (all_cores). The result never depends on it."""
    if isinstance(threads, bool) or not isinstance(threads, (int, _np.integer)) or not (
        0 <= int(threads) <= 4096
    ):
        raise ValueError(
            f"{who}: threads is {threads!r}, but must be an integer in [0, 4096] (0: all cores)"
        )
    return int(threads) or all_cores()


def check_shape(shape: Any, who: str) -> list:
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


def check_text(value: Any, name: str, who: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{who}: {name} is {value!r}, but must be a string")
    return value


def parse_memory(memory: Union[int, str]) -> int:
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


def as_input(data: Any, dtype: Optional[str], tensor: Optional[str], who: str):
    """(buffer or TensorFile, dtype text, source, note) for the C++ run."""
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        return _verinit.TensorFile.open(path, tensor or "", dtype or ""), "", path, ""
    if isinstance(data, _verinit.TensorFile):
        return data, dtype or "", "file", ""
    if tensor is not None:
        raise ValueError(f"{who}: tensor is {tensor!r}, but is used only with a file path")
    if is_torch_tensor(data):
        array, kind, note = torch_readable(data, who)
        if dtype is not None and dtype != kind:
            raise ValueError(f"{who}: dtype is {dtype!r}, but the tensor is {kind}")
        return array, kind, "torch", note
    array = _np.asarray(data)
    if array.dtype.kind == "f" and not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if not array.flags.c_contiguous:
        array = _np.ascontiguousarray(array)
    return array, dtype or "", "numpy", ""


def run(cases, *, alpha, seed, threads, memory, notes=None, model=None, key="") -> Result:
    """One run of `cases` (or of a model: `model` = (rules, layout, source), `cases` its
    tensors or a checkpoint's path, `key` a .pt's state_dict key)."""
    who = "verify"
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"{who}: alpha is {alpha!r}, but must be a number in (0, 1)")
    options = (check_seed(seed, who), float(alpha), check_threads(threads, who),
               parse_memory(memory))

    def call(summaries: bool):
        if model is None:
            return _verinit.verify_cases(cases, *options, summaries)
        if isinstance(cases, str):  # a checkpoint's path
            return _verinit.verify_model_path(cases, *model, *options, summaries, key)
        return _verinit.verify_model_cases(cases, *model, *options, summaries)

    # Without the samples' summaries (histogram, density, quantiles: 0.25 ms even for a small
    # tensor); a report asks for them, by running the same cases again with them.
    return Result(call(False), notes=notes, rerun=lambda: call(True))



# torch's float dtypes by name, looked up without importing torch (a torch tensor exists only
# if torch was imported).
_TORCH_FLOATS = ("float16", "bfloat16", "float32", "float64")


def torch_dtype_name(tensor: Any, who: str) -> str:
    """"float16", "bfloat16", "float32" or "float64" for a torch tensor; ValueError otherwise."""
    torch = sys.modules["torch"]
    for name in _TORCH_FLOATS:
        if tensor.dtype == getattr(torch, name):
            return name
    raise ValueError(
        f"{who}: the tensor is {tensor.dtype}, but must be torch.float16, torch.bfloat16, "
        "torch.float32 or torch.float64"
    )


def torch_numpy_view(tensor: Any) -> _np.ndarray:
    """The CPU tensor's memory as numpy (bfloat16 as int16 bit patterns), shared, not copied."""
    torch = sys.modules["torch"]
    t = tensor.detach()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy()


def torch_readable(tensor: Any, who: str):
    """(numpy array, dtype name, note) of a tensor to verify; copies only what must be."""
    if not is_torch_tensor(tensor):
        raise ValueError(f"{who}: expected a torch.Tensor, got {type(tensor).__name__}")
    name = torch_dtype_name(tensor, who)
    note = ""
    t = tensor.detach()
    if t.device.type != "cpu":
        note = f"copied from {t.device} to the CPU to verify"
        t = t.cpu()
    if not t.is_contiguous():
        t = t.contiguous()
    return torch_numpy_view(t), name, note
