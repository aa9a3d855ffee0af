"""verinit inside a distributed job: verify a model that only exists in parts.

A model initialised sharded (FSDP/FSDP2, tensor parallel, ZeRO-3, expert parallel) is never
whole on one process. Between ``init_weights()`` and step 0 (or on a loaded distributed
checkpoint), every process of the job calls::

    result = verinit.distributed.verify_model(model, rules, group=None)

Each process reduces its local parts to small states where they live: the law comes from the
*whole* tensor's shape, the samples become a stream state (or a 16-bit histogram), a 64-bit
digest and a non-finite count. Only those bytes move (never weights: a float32 part's state is
13-23 % of its bytes, a 16-bit part's ~60 kB), to the group's first
process, which verifies every tensor from its parts' merged states, checks the parts themselves
(``parts_cover``, ``parts_finite``: which process holds NaN; ``parts_distinct``: every process
seeded alike; ``parts_replicas``: replicas that should be equal and are not), decides the run,
and sends every process the same :class:`verinit.Result`.

How a process's part of a tensor is described, first match wins:

- ``parts={"name": Part(local, shape, offset), ...}``: the generic form, any array or tensor
  with the whole tensor's shape and the offset of its first element (a list of Parts if the
  process holds several);
- a DTensor (``torch.distributed.tensor``, torch >= 2.4; FSDP2 and tensor parallel): its local
  shard, the global shape and offset from its mesh and placements;
- a ShardedTensor (``torch.distributed._shard``): its local shards and their metadata;
- any other tensor: whole on this process. Held by several processes at the same place (DDP, a
  replicated bias), the first process's is tested and the others must equal it by digest.

The bytes travel over torch.distributed (``group``; a gloo side group where the default
backend is NCCL; for an NCCL subgroup pass a gloo group of the same processes) or over mpi4py (``comm``, for numpy or JAX parts without torch), or nowhere (one process).
Every process must call with the same rules; the model's own record
(:func:`verinit.torch.record`) works per process.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _verinit
from ._core import (DEFAULT_SEED, as_input, check_seed, check_text, check_threads,
                    is_torch_module, is_torch_tensor)
from ._model import load_rules
from ._result import Result

__all__ = ["Part", "verify_model"]


@dataclass
class Part:
    """A process's part of a tensor: its elements `tensor` (a torch tensor or an array, in the
    part's own shape), the whole tensor's `shape`, and `offset`, the index of the part's first
    element in the whole tensor (one per dim: ``torch.chunk(w, R, dim)[r]`` lies at offset
    ``r * ceil(w.shape[dim] / R)`` along `dim`, 0 along the others)."""

    tensor: Any
    shape: Sequence[int]
    offset: Sequence[int]


class _Channel:
    """The collectives verify_model needs: all_gather, gather at the first process, broadcast
    from it (of picklable objects)."""

    rank = 0
    size = 1
    label = "rank 0"

    def all_gather(self, obj: Any) -> List[Any]:
        return [obj]

    def gather(self, obj: Any) -> Optional[List[Any]]:
        return [obj]

    def broadcast(self, obj: Any) -> Any:
        return obj


class _TorchChannel(_Channel):
    def __init__(self, group: Any):
        import torch.distributed as dist

        self._dist = dist
        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("verify_model: group is given, but torch.distributed is not "
                             "initialised (call init_process_group first, or pass no group)")
        if dist.get_backend(group) == "nccl":
            # Object collectives over NCCL need CUDA tensors: a CPU side group for the bytes.
            group = _gloo_side_group(dist, group)
        self._group = group
        self.rank = dist.get_rank(group)
        self.size = dist.get_world_size(group)
        self.label = f"rank {dist.get_rank()}"
        ranks = [None] * self.size
        dist.all_gather_object(ranks, dist.get_rank(), group=group)
        self._first = ranks[0]  # the global rank of the group's first process

    def all_gather(self, obj: Any) -> List[Any]:
        out: List[Any] = [None] * self.size
        self._dist.all_gather_object(out, obj, group=self._group)
        return out

    def gather(self, obj: Any) -> Optional[List[Any]]:
        out: Optional[List[Any]] = [None] * self.size if self.rank == 0 else None
        self._dist.gather_object(obj, out, dst=self._first, group=self._group)
        return out

    def broadcast(self, obj: Any) -> Any:
        box = [obj]
        self._dist.broadcast_object_list(box, src=self._first, group=self._group)
        return box[0]


_side_group: List[Any] = []


def _gloo_side_group(dist: Any, group: Any) -> Any:
    """A gloo group of every process, for the default group under NCCL: made once (new_group is
    collective over the default group, so every process makes it, here). A subgroup under NCCL
    would need the processes outside it to take part too: the caller passes a gloo group."""
    if group is not None:
        raise ValueError(
            "verinit.distributed.verify_model: group is an NCCL group, but verinit's bytes "
            "travel on the CPU: pass a gloo group of the same processes as group "
            "(dist.new_group(ranks, backend=\"gloo\"), created by every process of the job)")
    if not _side_group:
        _side_group.append(dist.new_group(backend="gloo"))
    return _side_group[0]


class _MpiChannel(_Channel):
    def __init__(self, comm: Any):
        self._comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.label = f"rank {self.rank}"

    def all_gather(self, obj: Any) -> List[Any]:
        return self._comm.allgather(obj)

    def gather(self, obj: Any) -> Optional[List[Any]]:
        return self._comm.gather(obj, root=0)

    def broadcast(self, obj: Any) -> Any:
        return self._comm.bcast(obj, root=0)


def _channel(group: Any, comm: Any) -> _Channel:
    if comm is not None:
        if group is not None:
            raise ValueError("verify_model: give group (torch.distributed) or comm (mpi4py), "
                             "not both")
        return _MpiChannel(comm)
    torch = sys.modules.get("torch")
    if group is not None:
        return _TorchChannel(group)
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        return _TorchChannel(None)
    return _Channel()


# ---- each process's parts -----------------------------------------------------------------

def _is_dtensor(value: Any) -> bool:
    return hasattr(value, "to_local") and hasattr(value, "placements") and hasattr(
        value, "device_mesh")


def _is_sharded_tensor(value: Any) -> bool:
    return hasattr(value, "local_shards") and hasattr(value, "metadata")


def _dtensor_parts(value: Any) -> List[Part]:
    """A DTensor's local shard at its global offset (torch >= 2.4)."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    _, offset = compute_local_shape_and_global_offset(value.shape, value.device_mesh,
                                                      value.placements)
    return [Part(value.to_local(), list(value.shape), list(offset))]


def _sharded_tensor_parts(value: Any) -> List[Part]:
    """A ShardedTensor's local shards at their offsets."""
    shape = list(value.size())
    return [Part(s.tensor, shape, list(s.metadata.shard_offsets)) for s in value.local_shards()]


def _local_tensors(model: Any, parts: Optional[Dict[str, Any]], who: str) -> List[Dict[str, Any]]:
    """This process's tensors: dicts of name, value (its elements), shape (the whole tensor's),
    offset, part (whether it is a part of a larger whole)."""
    out: List[Dict[str, Any]] = []
    given = dict(parts or {})
    for name, value in given.items():
        if not isinstance(name, str):
            raise ValueError(f"{who}: a part's name is {name!r}, but must be a string")
        for p in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(p, Part):
                raise ValueError(f"{who}: parts['{name}'] is a {type(p).__name__}, but must be a "
                                 "verinit.distributed.Part (or a list of them)")
            out.append(_entry(name, p, True, who))
    if model is None:
        return out
    if is_torch_module(model):
        state = model.state_dict(keep_vars=True)
    elif isinstance(model, dict):
        state = model
    else:
        raise ValueError(f"{who}: model is a {type(model).__name__}, but must be a "
                         "torch.nn.Module, a dict of name -> tensor, or None (with parts)")
    for name, value in state.items():
        if name in given:
            continue
        if _is_dtensor(value):
            out.extend(_entry(name, p, True, who) for p in _dtensor_parts(value))
        elif _is_sharded_tensor(value):
            out.extend(_entry(name, p, True, who) for p in _sharded_tensor_parts(value))
        else:
            shape = list(getattr(value, "shape", ()))
            out.append(_entry(name, Part(value, shape, [0] * len(shape)), False, who))
    return out


def _entry(name: str, p: Part, part: bool, who: str) -> Dict[str, Any]:
    shape = [int(d) for d in p.shape]
    offset = [int(o) for o in p.offset]
    local = list(getattr(p.tensor, "shape", ()))
    if len(offset) != len(shape) or len(local) != len(shape) or any(
            o < 0 or o + n > d for o, n, d in zip(offset, local, shape)):
        raise ValueError(f"{who}: tensor '{name}': a part of shape {local} at offset {offset} "
                         f"does not lie inside the whole tensor's shape {shape}")
    return {"name": name, "value": p.tensor, "shape": shape, "offset": offset, "part": part,
            "local": local}


# ---- the run ------------------------------------------------------------------------------------

def verify_model(
    model: Any = None,
    rules: Any = None,
    group: Any = None,
    *,
    parts: Optional[Dict[str, Any]] = None,
    comm: Any = None,
    layout: str = "torch",
    alpha: float = 1e-6,
    seed: Optional[int] = None,
    threads: int = 0,
) -> Result:
    """Verifies a model held in parts by the processes of a job (see the module's docstring):
    every process calls it with its local `model` (a torch.nn.Module or a dict of name ->
    tensor) and/or `parts`, and gets the same :class:`verinit.Result`. `rules` as for
    :func:`verinit.verify_model`; with none, a module's recorded laws (or PyTorch's defaults).
    `group`: a torch.distributed process group (None: the default group, if initialised);
    `comm`: an mpi4py communicator instead. An error on any process (bad rules, a part that
    does not fit its tensor) is raised on every process, naming the process."""
    who = "verinit.distributed.verify_model"
    channel = _channel(group, comm)
    seed_value = check_seed(DEFAULT_SEED if seed is None else seed, who)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"{who}: alpha is {alpha!r}, but must be a number in (0, 1)")
    threads = check_threads(threads, who)

    # 1. What this process holds, and where; errors travel with it.
    try:
        check_text(layout, "layout", who)
        local = _local_tensors(model, parts, who)
        notes: List[str] = []
        if is_torch_module(model):
            from .torch import model_rules

            rules, notes, _ = model_rules(model, rules)
        if rules is None:
            raise ValueError(f"{who}: rules is None, but rules are derived only for a "
                             "torch.nn.Module (give a TOML path or string, or a list of rules)")
        parsed = load_rules(rules)
        meta: Any = [(e["name"], tuple(e["offset"]), tuple(e["local"]), e["part"])
                     for e in local]
    except Exception as error:  # raised below on every process, not here alone
        meta = _Failure.of(error, channel.label)
    everyone = channel.all_gather(meta)
    _raise_first(everyone)

    # 2. Who tests which part: the first process holding a place; the others hold replicas.
    # A tensor's piece shape: the largest part's, dim by dim (a smaller part comes last).
    holder: Dict[Tuple[str, Tuple[int, ...]], int] = {}
    piece: Dict[str, List[int]] = {}
    for rank, entries in enumerate(everyone):
        for name, offset, shape, _ in entries:
            if holder.setdefault((name, offset), rank) == rank:
                piece[name] = [max(a, b) for a, b in zip(piece.get(name, shape), shape)]

    # 3. Each part reduced where it lives; only the bytes go to the first process.
    try:
        items = []
        for e in local:
            key = (e["name"], tuple(e["offset"]))
            items.append(_item(e, piece[e["name"]] if e["part"] else None,
                               holder[key] != channel.rank, channel.label, who))
        reduced: Any = _verinit.reduce_parts(items, parsed, layout, channel.label, threads)
        reduced["notes"] = list(reduced["notes"]) + [n for n in notes if n]
    except Exception as error:
        reduced = _Failure.of(error, channel.label)
    gathered = channel.gather(reduced)

    # 4. The first process decides; every process gets its JSON.
    document: Any = None
    if channel.rank == 0:
        document = next((g for g in gathered or [] if isinstance(g, _Failure)), None)
        if document is None:
            try:
                document = _decide(gathered, seed_value, float(alpha), threads)
            except Exception as error:
                document = _Failure.of(error, channel.label)
    document = channel.broadcast(document)
    if isinstance(document, _Failure):
        document.raise_()
    return Result(_verinit.run_from_json(document))


@dataclass
class _Failure:
    """An error on one process, raised on every process (so that none waits for the others)."""

    message: str
    kind: str

    @staticmethod
    def of(error: BaseException, label: str = "") -> "_Failure":
        kind = ("OSError" if isinstance(error, OSError) else
                "ValueError" if isinstance(error, ValueError) else "RuntimeError")
        text = str(error) if kind != "RuntimeError" else f"{type(error).__name__}: {error}"
        return _Failure(f"{label}: {text}" if label else text, kind)

    def raise_(self) -> None:
        raise {"OSError": OSError, "ValueError": ValueError}.get(self.kind, RuntimeError)(
            self.message)


def _raise_first(objects: Optional[List[Any]]) -> None:
    for obj in objects or []:
        if isinstance(obj, _Failure):
            obj.raise_()


def _item(e: Dict[str, Any], piece: Optional[List[int]], replica: bool, where: str,
          who: str) -> Dict[str, Any]:
    """The binding's dict of one local tensor."""
    value = e["value"]
    if is_torch_tensor(value):
        weight = value.is_floating_point()
        dtype_name = str(value.dtype)
    else:
        import numpy as _np

        value = _np.asarray(value)
        weight = value.dtype.kind == "f"
        dtype_name = str(value.dtype)
    data, dtype = None, ""
    if weight:
        data, dtype, _, _ = as_input(value, None, None, who)
    return {"name": e["name"], "data": data, "dtype": dtype, "dtype_name": dtype_name,
            "shape": e["shape"], "storage": 0, "part": e["part"], "offset": e["offset"],
            "piece_shape": piece, "replica": replica, "where": where}


def _decide(gathered: List[Any], seed: int, alpha: float, threads: int) -> str:
    parts: List[bytes] = []
    lists: Dict[str, List[Any]] = {"unmatched": [], "skipped": [], "tied": [], "notes": []}
    for reduced in gathered:
        parts.extend(reduced["parts"])
        for key, values in lists.items():
            for v in reduced[key]:
                v = tuple(v) if key == "tied" else v
                if v not in values:  # a tensor every process holds is listed once
                    values.append(v)
    run = _verinit.run_parts(parts, lists["unmatched"], lists["skipped"], lists["tied"],
                             lists["notes"], seed, alpha, threads)
    return run.to_json()
