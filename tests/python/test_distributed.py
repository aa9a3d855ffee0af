"""verinit.distributed inside real jobs: four processes on torch.distributed's gloo backend
(127.0.0.1, an env:// launcher of our own: torchrun on Python 3.11 needs --redirects/--tee, see
../shared/research/distributed.md), and three under mpiexec with mpi4py. The parts are cut by
hand as sharded jobs cut them (torch.chunk along dim 0 or 1). The five ways a distributed
initialisation goes wrong each fail, naming the processes; a correct one passes, and its tensor's
result is the one process folding the same parts, bit for bit."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import verinit.distributed as vd  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, ranks: int) -> list:
    """Starts `ranks` processes of the worker (the env:// variables torchrun would set) and
    returns what each wrote."""
    port = free_port()
    procs = []
    for rank in range(ranks):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(ranks), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, WORKER, "torch", str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [p.communicate(timeout=600)[0].decode() for p in procs]
    for rank, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"rank {rank}:\n{out}"
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(ranks)]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    return launch(tmp_path_factory.mktemp("gloo"), 4)


def same_on_every_rank(job, scenario):
    first = job[0][scenario]
    for rank, results in enumerate(job):
        if scenario not in results:
            continue
        got = results[scenario]
        assert "error" not in got, f"rank {rank}: {got['error']}"
        assert got["passed"] == first["passed"] and got["failing"] == first["failing"], rank
        assert got["json"] == first["json"], f"rank {rank} got another Result"
    return first


def case_of(document: str, tensor: str) -> dict:
    return next(c for c in json.loads(document)["schemes"] if c["tensor"] == tensor)


def test_a_correct_sharded_init_passes_as_one_process_folding_its_parts(job):
    got = same_on_every_rank(job, "correct")
    assert got["passed"], got["failing"]
    document = json.loads(got["json"])
    weight = case_of(got["json"], "fc.weight")
    assert weight["n"] == 128 * 256 and weight["shape"] == [128, 256]
    names = [t["name"] for t in weight["tests"]]
    assert {"ks", "variance", "parts_cover", "parts_finite", "parts_distinct"} <= set(names)
    # The bias every process holds whole: tested once, the three others equal it by digest.
    bias = case_of(got["json"], "fc.bias")
    replicas = next(t for t in bias["tests"] if t["name"] == "parts_replicas")
    assert replicas["passed"] and "3 replicas" in replicas["note"]
    assert document["timing"]  # a run like any other
    # One process holding the four parts: the weight's result is the same bits.
    g = torch.Generator().manual_seed(0)
    w = torch.empty(128, 256).uniform_(-1 / 16, 1 / 16, generator=g)
    b = torch.empty(128).uniform_(-1 / 16, 1 / 16, generator=g)
    parts = [vd.Part(c.contiguous(), [128, 256], [32 * r, 0])
             for r, c in enumerate(torch.chunk(w, 4, 0))]
    alone = vd.verify_model({"fc.bias": b}, [
        {"match": "*.weight", "expect": "torch_linear"},
        {"match": "*.bias", "expect": "torch_linear", "fans_from": "{parent}.weight"}],
        parts={"fc.weight": parts})
    one = case_of(alone.to_json(), "fc.weight")
    # The parts' rows name where they were: "rank 0" for all four in one process.
    assert [(r["offset"], r["n"], r["digest"]) for r in one.pop("parts")] == [
        (r["offset"], r["n"], r["digest"]) for r in weight.pop("parts")]
    assert one == weight


def test_b_every_rank_seeded_alike_fails_naming_the_equal_parts(job):
    got = same_on_every_rank(job, "same_seed")
    assert not got["passed"]
    failing = got["failing"]["fc.weight"]
    # Every marginal test passes; the parts' digests name them, and the merged window hashes
    # of the repeated-runs test see the same windows again.
    assert set(failing) == {"parts_distinct", "repeated_runs"}, failing
    assert "rank 0 (offset [0,0]) = rank 1 (offset [32,0])" in failing["parts_distinct"]
    assert "rank 3 (offset [96,0])" in failing["parts_distinct"]
    # The digest rows: one per part, where it lies, its size, its non-finite count, its digest.
    rows = case_of(got["json"], "fc.weight")["parts"]
    assert [(r["where"], r["offset"], r["n"], r["non_finite"], r["replica"]) for r in rows] == [
        (f"rank {k}", [32 * k, 0], 32 * 256, 0, False) for k in range(4)]
    assert len({r["digest"] for r in rows}) == 1 and len(rows[0]["digest"]) == 16


def test_c_a_row_parallel_law_from_the_local_fan_fails_its_variance(job):
    got = same_on_every_rank(job, "local_fan")
    assert not got["passed"]
    assert "variance" in got["failing"]["proj.weight"], got["failing"]


def test_d_nan_or_zeros_beyond_rank_0_fail_naming_those_ranks(job):
    got = same_on_every_rank(job, "nan")  # bfloat16 parts: the 16-bit path
    assert not got["passed"]
    note = got["failing"]["fc.weight"]["parts_finite"]
    for rank in (1, 2, 3):
        assert f"rank {rank} (offset [{32 * rank},0]): 8192 of 8192" in note, note
    assert "rank 0" not in note
    rows = case_of(got["json"], "fc.weight")["parts"]
    assert [r["non_finite"] for r in rows] == [0, 8192, 8192, 8192]
    zeros = same_on_every_rank(job, "zeros")
    assert not zeros["passed"]
    failing = zeros["failing"]["fc.weight"]
    assert "ks" in failing and "variance" in failing
    assert "rank 1 (offset [32,0]) = rank 2 (offset [64,0])" in failing["parts_distinct"]
    assert "rank 0" not in failing["parts_distinct"]


def test_e_replicas_that_diverge_fail_naming_them(job):
    got = same_on_every_rank(job, "replicas")
    assert not got["passed"]
    failing = got["failing"]["fc.weight"]
    assert set(failing) == {"parts_replicas"}, failing
    note = failing["parts_replicas"]
    assert "rank 2 (offset [0,0]) differs from rank 0 (offset [0,0])" in note, note
    assert "rank 3 (offset [64,0]) differs from rank 1 (offset [64,0])" in note, note


def test_an_error_on_one_process_is_raised_on_every_process(job):
    for rank, results in enumerate(job):
        error = results["error_on_one_rank" if "error_on_one_rank" in results else "error"]
        assert error.get("error", "").startswith("ValueError: rank 2: "), (rank, error)
        assert "kaiming_nromal" in error["error"]


def test_a_recorded_module_with_a_part_and_a_subgroup(job):
    got = same_on_every_rank(job, "record")
    assert got["passed"], got["failing"]
    names = {c["tensor"] for c in json.loads(got["json"])["schemes"]}
    assert names == {"0.weight", "0.bias", "1.weight", "1.bias"}
    sub = same_on_every_rank(job, "subgroup")
    assert sub["passed"], sub["failing"]
    assert "subgroup" not in job[3]
    assert case_of(sub["json"], "fc.weight")["n"] == 128 * 256


@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs Open MPI's mpiexec")
def test_mpi4py_carries_the_same_bytes_for_numpy_parts(tmp_path):
    pytest.importorskip("mpi4py")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_pml="ob1",
               OMPI_MCA_btl="self,vader", OMP_NUM_THREADS="1")
    done = subprocess.run(["mpiexec", "-n", "3", sys.executable, WORKER, "mpi", str(tmp_path)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert done.returncode == 0, done.stdout.decode()
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(3)]
    assert all(r["correct"]["passed"] for r in ranks), ranks[0]["correct"]["failing"]
    assert len({r["correct"]["json"] for r in ranks}) == 1
    failing = ranks[0]["same_seed"]["failing"]["fc.weight"]
    assert "rank 0 (offset [0,0]) = rank 1 (offset [32,0])" in failing["parts_distinct"]


def test_one_process_without_a_job_and_bad_parts():
    w = torch.empty(64, 32).uniform_(-1 / 32 ** 0.5, 1 / 32 ** 0.5)
    rules = [{"match": "*", "expect": "torch_linear"}]
    alone = vd.verify_model(None, rules, parts={"w": vd.Part(w, [64, 32], [0, 0])})
    assert alone.passed
    # JAX-style names with brackets, in parts.
    name = "['params']['Dense_0']['kernel']"
    halves = {name: [vd.Part(h, [64, 32], [32 * k, 0]) for k, h in enumerate(torch.chunk(w, 2))]}
    keyed = vd.verify_model(None, rules, parts=halves)
    assert keyed.passed and [c.tensor for c in keyed.cases] == [name]
    with pytest.raises(ValueError, match="does not lie inside the whole tensor"):
        vd.verify_model(None, rules, parts={"w": vd.Part(w, [64, 32], [8, 0])})
    with pytest.raises(ValueError, match="must be a verinit.distributed.Part"):
        vd.verify_model(None, rules, parts={"w": w})
    with pytest.raises(ValueError, match="rules is None"):
        vd.verify_model(None, None, parts={"w": vd.Part(w, [64, 32], [0, 0])})
