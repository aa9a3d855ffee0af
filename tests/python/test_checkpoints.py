"""Whole checkpoints (issue 12's Done-when): a freshly built PyTorch model with default init,
saved as safetensors, sharded safetensors (Hugging Face's index) and npz (stored and
deflated), passes against the shipped verify/rules/pytorch_defaults.toml; each of the usual
initialisation bugs, made in one tensor, fails exactly that tensor with a diagnosis naming the
cause; a tensor no rule matches fails the run."""

import json
import os
import struct
import subprocess

import numpy as np
import pytest

import verinit

torch = pytest.importorskip("torch")
nn = torch.nn

RULES = os.path.join(os.path.dirname(__file__), "..", "..", "verify", "rules",
                     "pytorch_defaults.toml")


class Net(nn.Module):
    """Every module type of the Done-when, with the usual names. The LSTM's input size (48)
    differs from its hidden size (128) so that a bound from the wrong one shows."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 48)
        self.conv = nn.Conv1d(48, 48, 3)
        self.bn = nn.BatchNorm1d(48)
        self.norm = nn.LayerNorm(48)
        self.lstm = nn.LSTM(48, 128, num_layers=2)
        self.attn = nn.MultiheadAttention(128, 4)
        self.head = nn.Linear(128, 1000)


def state():
    torch.manual_seed(2024)
    return {k: v.detach().numpy().copy() for k, v in Net().state_dict().items()}


_DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64", np.dtype("int64"): "I64"}


def write_safetensors(path, tensors):
    """The safetensors layout (huggingface/safetensors README, "Format"), written by hand."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": _DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_sharded(directory, tensors, shards=3):
    """Hugging Face's sharded layout: model-0000k-of-0000n.safetensors and the index."""
    names = list(tensors)
    weight_map = {}
    for k in range(shards):
        shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[k::shards]}
        write_safetensors(os.path.join(directory, shard), part)
        weight_map.update({n: shard for n in part})
    index = os.path.join(directory, "model.safetensors.index.json")
    with open(index, "w") as f:
        json.dump({"metadata": {"total_size": sum(a.nbytes for a in tensors.values())},
                   "weight_map": weight_map}, f)
    return index


def save(tmp_path, tensors, form):
    if form == "safetensors":
        path = str(tmp_path / "model.safetensors")
        write_safetensors(path, tensors)
    elif form == "sharded":
        path = write_sharded(str(tmp_path), tensors)
    elif form == "npz":
        path = str(tmp_path / "model.npz")
        np.savez(path, **tensors)
    else:
        path = str(tmp_path / "model_compressed.npz")
        np.savez_compressed(path, **tensors)
    return path


FORMS = ["safetensors", "sharded", "npz", "npz_compressed"]


@pytest.mark.parametrize("form", FORMS)
def test_a_fresh_model_passes_in_every_format(tmp_path, form):
    tensors = state()
    path = save(tmp_path, tensors, form)
    listed = verinit.list_tensors(path)
    assert [e["name"] for e in listed] == list(tensors) or form == "sharded"
    assert {e["name"] for e in listed} == set(tensors)
    r = verinit.verify_model(path, RULES)
    assert r.passed, repr(r)
    assert not r.unmatched and r.skipped == ["bn.num_batches_tracked"]
    assert len(r.cases) == len(tensors) - 1


def uniform(rng, shape, bound):
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


# (tensor, how it is broken, words its diagnosis must hold)
BUGS = {
    "reinit_002": ("head.weight", lambda w, rng: rng.normal(0, 0.02, w.shape).astype(np.float32),
                   "N(0, 0.02^2)"),
    "bias_left_zero": ("conv.bias", lambda w, rng: np.zeros_like(w), "left at zeros"),
    # U(+-1/sqrt(input_size)) where 1/sqrt(hidden_size) is due.
    "lstm_input_size": ("lstm.weight_ih_l0", lambda w, rng: uniform(rng, w.shape, 48 ** -0.5),
                        "a fan of about 48 in place of 128"),
    "rows_1e37": ("embed.weight",
                  lambda w, rng: np.concatenate([np.full((4, 48), 1e37, np.float32), w[4:]]),
                  "far beyond any plausible law"),
    "rows_nan": ("attn.in_proj_weight",
                 lambda w, rng: np.concatenate([np.full((2, 128), np.nan, np.float32), w[2:]]),
                 "non-finite values"),
    # Linear's bound 1/sqrt(fan_out) = 1/sqrt(1000) where 1/sqrt(fan_in) = 1/sqrt(128) is due.
    "linear_fan_out": ("head.weight", lambda w, rng: uniform(rng, w.shape, 1000 ** -0.5),
                       "fan_in and fan_out swapped"),
}


@pytest.mark.parametrize("bug", list(BUGS))
@pytest.mark.parametrize("form", ["safetensors", "sharded", "npz_compressed"])
def test_one_broken_tensor_fails_alone_and_is_diagnosed(tmp_path, form, bug):
    name, breaks, words = BUGS[bug]
    tensors = state()
    tensors[name] = breaks(tensors[name], np.random.default_rng(7))
    r = verinit.verify_model(save(tmp_path, tensors, form), RULES)
    assert not r.passed
    assert [c.tensor for c in r.failed] == [name], repr(r)
    assert words in r.failed[0].diagnosis, r.failed[0].diagnosis


@pytest.mark.parametrize("form", FORMS)
def test_an_unmatched_tensor_fails_the_run(tmp_path, form):
    tensors = state()
    tensors["scale"] = np.ones(48, np.float32)  # a bare nn.Parameter: no rule names it
    r = verinit.verify_model(save(tmp_path, tensors, form), RULES)
    assert not r.passed and r.unmatched == ["scale"]
    assert all(c.passed for c in r.cases)


def test_the_command_line_reads_every_format(tmp_path, cli):
    tensors = state()
    for form in FORMS:
        directory = tmp_path / form
        directory.mkdir()
        path = save(directory, tensors, form)
        listed = subprocess.run([cli, "list-tensors", "--input", path], capture_output=True,
                                text=True)
        assert listed.returncode == 0, listed.stderr
        assert "bn.num_batches_tracked\tI64\t[]\t8" in listed.stdout
        assert f"{len(tensors)} tensors" in listed.stdout
        ok = subprocess.run([cli, "verify", "--input", path, "--rules", RULES],
                            capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
    # A directory is read through its index.
    ok = subprocess.run([cli, "verify", "--input", str(tmp_path / "sharded"), "--rules", RULES],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # One tensor of an .npz, by name.
    one = subprocess.run([cli, "verify", "--input", str(tmp_path / "npz" / "model.npz"),
                          "--tensor", "head.weight", "--expect", "torch_linear"],
                         capture_output=True, text=True)
    assert one.returncode == 0, one.stdout + one.stderr
    # A missing shard: exit 2, one line naming the index and the shard.
    os.remove(tmp_path / "sharded" / "model-00002-of-00003.safetensors")
    bad = subprocess.run([cli, "verify", "--input",
                          str(tmp_path / "sharded" / "model.safetensors.index.json"), "--rules",
                          RULES], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "model-00002-of-00003.safetensors' is missing" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_compressed_npz_beyond_the_memory_budget_is_spilled_with_the_same_results(tmp_path, cli):
    # --memory 1M holds 512 KiB of inflated copies; the model's ~1.3 MB of deflated members go
    # beyond it into an unlinked temporary file (checkpoint_views): every number is the same.
    path = save(tmp_path, state(), "npz_compressed")
    documents = []
    for memory in ["2G", "1M"]:
        out = tmp_path / f"{memory}.json"
        run = subprocess.run([cli, "verify", "--input", path, "--rules", RULES, "--memory", memory,
                              "--json", str(out)], capture_output=True, text=True,
                             env={**os.environ, "TMPDIR": str(tmp_path)})
        assert run.returncode == 0, run.stdout + run.stderr
        document = json.loads(out.read_text())
        document.pop("timing")
        documents.append(document)
    assert documents[0] == documents[1]
    # It did spill: with no temporary directory to write to, the same run is refused by name.
    refused = subprocess.run([cli, "verify", "--input", path, "--rules", RULES, "--memory", "1M"],
                             capture_output=True, text=True,
                             env={**os.environ, "TMPDIR": str(tmp_path / "missing")})
    assert refused.returncode == 2
    assert f"cannot write a temporary file in '{tmp_path / 'missing'}'" in refused.stderr
    # Nothing left behind in the temporary directory but the JSON files.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["1M.json", "2G.json", os.path.basename(path)])


def test_verify_model_reads_a_path_as_the_command_line_does(tmp_path, monkeypatch):
    # verinit.verify_model(path) holds the checkpoint through checkpoint_views too: memory="1M"
    # spills the inflated members beyond 512 KiB to a temporary file, with the same numbers.
    path = save(tmp_path, state(), "npz_compressed")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    documents = []
    for memory in ["2G", "1M"]:
        r = verinit.verify_model(path, RULES, memory=memory)
        assert r.passed, repr(r)
        document = r.to_dict()
        document.pop("timing")
        documents.append(document)
    assert documents[0] == documents[1]
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    with pytest.raises(OSError, match="cannot write a temporary file in"):
        verinit.verify_model(path, RULES, memory="1M")
    verinit.verify_model(path, RULES)  # within the budget: nothing to spill
    assert sorted(p.name for p in tmp_path.iterdir()) == [os.path.basename(path)]


def test_bad_checkpoints_raise_oserror(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(OSError, match="broken.npz.*no end of central directory"):
        verinit.verify_model(str(broken), RULES)
    with pytest.raises(OSError, match="not a checkpoint by its name"):
        verinit.verify_model(str(tmp_path / "model.h5"), RULES)


def test_identify_names_the_scheme_and_the_reinitialised_layer(tmp_path):
    tensors = state()
    tensors["head.weight"] = np.random.default_rng(3).normal(0, 0.02, (1000, 128)).astype(
        np.float32)
    path = save(tmp_path, tensors, "safetensors")
    listed = verinit.list_tensors(path)
    assert listed[0] == {"name": "embed.weight", "dtype": "F32", "shape": [1000, 48],
                         "bytes": 192000, "weight": True, "tied_to": None, "withheld": None}
    best = verinit.identify(path, tensor="head.weight")[0]
    assert (best["scheme"], best["passed"]) == ("normal(std=0.02)", True)
    lstm = verinit.identify(tensors["lstm.weight_hh_l1"])[0]  # U(+-1/sqrt(128)) on (512, 128)
    assert (lstm["scheme"], lstm["layout"], lstm["passed"]) == ("torch_linear", "torch", True)
    # The run's diagnosis says the same.
    r = verinit.verify_model(path, RULES)
    assert "the samples fit normal(std=0.02)" in r.failed[0].diagnosis
    with pytest.raises(ValueError, match="alpha"):
        verinit.identify(tensors["head.weight"], alpha=2)
