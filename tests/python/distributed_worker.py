"""One process of the distributed tests (test_distributed.py starts several): builds its parts of
small models the way sharded jobs do, by hand (Debian's torch 1.13 has no DTensor, and its FSDP
and ShardedTensor do not import on Python 3.11), runs verinit.distributed.verify_model on each
scenario and writes what it got to OUT/rank<r>.json.

Usage: distributed_worker.py torch OUT  (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set)
       distributed_worker.py mpi OUT    (under mpiexec)
"""

import json
import math
import os
import sys

import numpy as np

import verinit.distributed as vd

RULES = [{"match": "*.weight", "expect": "torch_linear"},
         {"match": "*.bias", "expect": "torch_linear", "fans_from": "{parent}.weight"}]
XAVIER = [{"match": "*.weight", "expect": "xavier_normal"}]


def outcome(result):
    """What the test reads of a Result: the verdict, the failing tests with their notes, and
    (first process) the JSON."""
    failing = {}
    for case in result.cases:
        for t in case.tests:
            if not t.passed:
                failing.setdefault(case.tensor, {})[t.name] = t.note
    return {"passed": result.passed, "failing": failing, "json": result.to_json()}


def run(scenarios, out, rank):
    results = {}
    for name, call in scenarios:
        try:
            results[name] = outcome(call())
        except (ValueError, OSError) as error:
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    with open(os.path.join(out, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(results, f)


def torch_scenarios():
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    rows, cols = 128, 256
    chunk = rows // size

    def whole(seed, dtype=torch.float32):
        """A Linear(256, 128)'s weight and bias as torch draws them, from one seed."""
        g = torch.Generator().manual_seed(seed)
        w = torch.empty(rows, cols).uniform_(-1 / 16, 1 / 16, generator=g)
        b = torch.empty(rows).uniform_(-1 / 16, 1 / 16, generator=g)
        return w.to(dtype), b

    def parts_of(w, dim=0, pieces=size, index=rank):
        local = torch.chunk(w, pieces, dim)[index].contiguous()
        offset = [0, 0]
        offset[dim] = index * math.ceil(w.shape[dim] / pieces)
        return vd.Part(local, list(w.shape), offset)

    def correct():
        w, b = whole(0)
        return vd.verify_model({"fc.bias": b}, RULES, parts={"fc.weight": parts_of(w)})

    def same_seed():  # every rank seeded alike: each draws its rows from seed 0
        g = torch.Generator().manual_seed(0)
        local = torch.empty(chunk, cols).uniform_(-1 / 16, 1 / 16, generator=g)
        return vd.verify_model(None, RULES[:1], parts={
            "fc.weight": vd.Part(local, [rows, cols], [rank * chunk, 0])})

    def local_fan():  # row-parallel (Shard(1)): xavier from the local shard's fans
        torch.manual_seed(100 + rank)
        local = torch.empty(rows, cols // size)
        torch.nn.init.xavier_normal_(local)
        return vd.verify_model(None, XAVIER, parts={
            "proj.weight": vd.Part(local, [rows, cols], [0, rank * (cols // size)])})

    def nan_on_later_ranks():  # bfloat16 placeholders of empty_like: NaN beyond rank 0
        w, _ = whole(0, torch.bfloat16)
        p = parts_of(w)
        if rank > 0:
            p.tensor.fill_(float("nan"))
        return vd.verify_model(None, RULES[:1], parts={"fc.weight": p})

    def zeros_on_later_ranks():  # init skipped beyond rank 0: fresh pages, zeros
        w, _ = whole(0)
        p = parts_of(w)
        if rank > 0:
            p.tensor.zero_()
        return vd.verify_model(None, RULES[:1], parts={"fc.weight": p})

    def diverging_replicas():  # a 2 x 2 mesh: shard within a replica group, replicas differ
        replica, shard = divmod(rank, 2)
        w, _ = whole(replica)  # each replica group drew its own: OLMo-core#319
        return vd.verify_model(None, RULES[:1], parts={"fc.weight": parts_of(w, 0, 2, shard)})

    def error_on_one_rank():
        rules = RULES if rank != 2 else [{"match": "*", "expect": "kaiming_nromal"}]
        w, _ = whole(0)
        return vd.verify_model(None, rules, parts={"fc.weight": parts_of(w)})

    def module_with_record():  # a module built under record, its weight then cut into parts
        import verinit.torch

        torch.manual_seed(7)  # the same on every rank: every rank builds the whole model
        with verinit.torch.record():
            model = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.Linear(128, 64))
        state = model.state_dict()
        parts = {"0.weight": parts_of(state["0.weight"])}
        return vd.verify_model(model, parts=parts)

    scenarios = [("correct", correct), ("same_seed", same_seed), ("local_fan", local_fan),
                 ("nan", nan_on_later_ranks), ("zeros", zeros_on_later_ranks),
                 ("replicas", diverging_replicas), ("error", error_on_one_rank),
                 ("record", module_with_record)]
    if size >= 4:  # a group of three of the four processes
        group = dist.new_group([0, 1, 2])
        if rank < 3:
            def subgroup():
                w, _ = whole(3)
                return vd.verify_model(None, RULES[:1], group=group, parts={
                    "fc.weight": parts_of(w, 0, 3, rank)})
            scenarios.append(("subgroup", subgroup))
    return scenarios, rank


def mpi_scenarios():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    rows, cols = 96, 256
    chunk = rows // size
    w = np.random.default_rng(0).uniform(-1 / 16, 1 / 16, (rows, cols)).astype(np.float32)

    def correct():
        local = w[rank * chunk:(rank + 1) * chunk]
        return vd.verify_model(None, RULES[:1], comm=comm, parts={
            "fc.weight": vd.Part(local, [rows, cols], [rank * chunk, 0])})

    def same_seed():
        local = np.random.default_rng(0).uniform(-1 / 16, 1 / 16, (chunk, cols)).astype(np.float32)
        return vd.verify_model(None, RULES[:1], comm=comm, parts={
            "fc.weight": vd.Part(local, [rows, cols], [rank * chunk, 0])})

    return [("correct", correct), ("same_seed", same_seed)], rank


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    scenarios, rank = torch_scenarios() if mode == "torch" else mpi_scenarios()
    run(scenarios, out, rank)
