"""torch tensors in, torch tensors out: fill in place and sample.

``init_`` writes into the tensor's memory (CPU, contiguous) with the GIL released, the same
bits as :func:`verinit.sample` with the same arguments; bfloat16 included, sampled at float64's
resolution and rounded once to nearest even (unlike PyTorch 1.13's bfloat16 ``normal_``,
which computes Box-Muller in bfloat16 and clips the tails near 3.3 sd).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch as _torch

from .. import _verinit
from .._core import (check_seed, check_shape, check_text, check_threads, torch_dtype_name,
                     torch_numpy_view)

_NAMES = ("float16", "bfloat16", "float32", "float64")


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
    name = torch_dtype_name(tensor, who)
    if not tensor.is_contiguous():
        raise ValueError(
            f"{who}: the tensor (shape {tuple(tensor.shape)}, strides {tensor.stride()}) is not "
            "contiguous, but must be (fill tensor.contiguous() and copy it back)"
        )
    args = (
        name,
        check_text(scheme, "scheme", who),
        None if fans_from is None else check_shape(fans_from, who),
        check_text(layout, "layout", who),
        check_seed(seed, who),
        check_threads(threads, who),
    )
    if tensor.device.type != "cpu":
        host = _torch.empty(tensor.shape, dtype=tensor.dtype)
        _verinit.fill(torch_numpy_view(host), *args)
        with _torch.no_grad():
            tensor.copy_(host)
        return tensor
    _verinit.fill(torch_numpy_view(tensor), *args)
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
    if not isinstance(dtype, _torch.dtype) or str(dtype).replace("torch.", "") not in _NAMES:
        raise ValueError(
            f"sample: dtype is {dtype}, but must be torch.float16, torch.bfloat16, torch.float32 "
            "or torch.float64"
        )
    out = _torch.empty(check_shape(shape, "sample"), dtype=dtype)
    return init_(out, scheme, layout=layout, seed=seed, threads=threads)
