"""torch.save files read by verinit's own .pt reader (no torch.load, nothing executed): the
same verification as the safetensors twin, training checkpoints, tied weights, hostile files
refused with OSError, and the torch.load warning for torch < 2.6."""

import json
import os
import subprocess
import sys
import warnings

import pytest

import verinit

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from verinit.torch.__main__ import save_safetensors  # noqa: E402


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """resnet18 built under record(): its .pt, its safetensors twin and its laws file."""
    out = tmp_path_factory.mktemp("resnet")
    torch.manual_seed(0)
    with verinit.torch.record() as rec:
        model = torchvision.models.resnet18(weights=None)
    torch.save(model.state_dict(), out / "model.pt")
    save_safetensors(model.state_dict(), str(out / "model.safetensors"))
    (out / "laws.toml").write_text(rec.to_toml(model))
    return out


def comparable(doc):
    """A result JSON without what differs between two runs of one model from two files."""
    doc = dict(doc)
    doc.pop("timing")
    for case in doc["schemes"]:
        case.pop("source")  # the file's path
    return json.dumps(doc, sort_keys=True)


def test_a_pt_file_verifies_as_its_safetensors_twin_does(resnet, cli, tmp_path):
    docs = []
    for name in ("model.pt", "model.safetensors"):
        out = tmp_path / (name + ".json")
        run = subprocess.run([cli, "verify", "--input", str(resnet / name), "--rules",
                              str(resnet / "laws.toml"), "--json", str(out)],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        docs.append(json.loads(out.read_text()))
    assert len(docs[0]["schemes"]) == 102 and len(docs[0]["skipped"]) == 20  # its 122 tensors
    assert comparable(docs[0]) == comparable(docs[1])


def test_verify_model_and_list_tensors_read_a_pt_path(resnet):
    result = verinit.verify_model(str(resnet / "model.pt"), str(resnet / "laws.toml"))
    assert result, result.summary()
    listed = verinit.list_tensors(resnet / "model.pt")
    assert listed[0]["name"] == "conv1.weight" and listed[0]["dtype"] == "F32"
    counts = [t for t in listed if t["name"].endswith("num_batches_tracked")]
    assert counts and not counts[0]["weight"] and counts[0]["dtype"] == "I64"


def test_a_training_checkpoint_is_verified_by_its_state_dict(resnet, tmp_path):
    state = torch.load(resnet / "model.pt")  # our own file, made above
    path = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "model": state, "optimizer": {"lr": 0.1}}, path)
    result = verinit.verify_model(str(path), str(resnet / "laws.toml"))
    assert result, result.summary()
    assert "not a tensor, not verified: 'epoch' (int)" in result.notes
    by_key = verinit.verify_model(str(path), str(resnet / "laws.toml"), key="model")
    assert by_key
    with pytest.raises(OSError, match="no dict under the key 'ema'"):
        verinit.verify_model(str(path), str(resnet / "laws.toml"), key="ema")
    with pytest.raises(ValueError, match="used only with a .pt file path"):
        verinit.verify_model(state, str(resnet / "laws.toml"), key="model")


class _Payload:
    """A pickle that runs a command when torch.load (or pickle) loads it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_file_that_would_run_code_is_refused_and_runs_none(tmp_path, cli):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(3), "x": _Payload(marker)}, path)
    with pytest.raises(OSError) as caught:
        verinit.list_tensors(path)
    message = str(caught.value)
    assert "GLOBAL 'posix.system'" in message and str(path) in message
    assert "\n" not in message and "safe" not in message
    run = subprocess.run([cli, "list-tensors", "--input", str(path)], capture_output=True,
                         text=True)
    assert run.returncode == 2 and "GLOBAL 'posix.system'" in run.stderr
    assert not marker.exists()


def test_tied_weights_are_listed_once(tmp_path):
    emb = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    path = tmp_path / "tied.pt"
    torch.save({"emb.weight": emb.weight, "head.weight": head.weight}, path)
    listed = verinit.list_tensors(path)
    assert [t["tied_to"] for t in listed] == [None, "emb.weight"]


def test_a_dict_of_torch_tensors_warns_about_torch_load_before_2_6(monkeypatch):
    monkeypatch.setattr(verinit, "_warned_torch_load", False)
    state = {"w": torch.nn.init.normal_(torch.empty(64, 64))}
    old = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (2, 6)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        verinit.verify_model(state, [{"match": "*", "expect": "normal(mean=0,std=1)"}])
    said = [str(w.message) for w in seen if "CVE-2025-32434" in str(w.message)]
    assert len(said) == (1 if old else 0)


def test_sharded_bin_checkpoints_are_read_through_their_index(resnet, tmp_path):
    # transformers' pytorch_model.bin.index.json: {"metadata": ..., "weight_map": {tensor: shard}}
    state = torch.load(resnet / "model.pt")
    names = list(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[:60],
              "pytorch_model-00002-of-00002.bin": names[60:]}
    weight_map = {}
    for shard, part in halves.items():
        torch.save({n: state[n] for n in part}, tmp_path / shard)
        weight_map.update({n: shard for n in part})
    (tmp_path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    listed = verinit.list_tensors(tmp_path)  # a directory: through its index
    assert sorted(t["name"] for t in listed) == sorted(names)
    assert verinit.verify_model(str(tmp_path), str(resnet / "laws.toml"))
    weight_map[names[0]] = "pytorch_model-00002-of-00002.bin"
    (tmp_path / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    with pytest.raises(OSError, match="is mapped by the index to"):
        verinit.list_tensors(tmp_path / "pytorch_model.bin.index.json")
