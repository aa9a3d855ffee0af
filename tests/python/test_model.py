"""verify_model: PyTorch's per-class defaults derived exactly (a fresh module of every supported
layer type passes), re-initialised layers named, unmatched, skipped and tied tensors, rules as
TOML and as data, checkpoints, and apply_."""

import json
import struct

import numpy as np
import pytest

import verinit

torch = pytest.importorskip("torch")
nn = torch.nn
import verinit.torch as vtorch  # noqa: E402


def fresh_modules():
    torch.manual_seed(1234)
    return {
        "linear": nn.Linear(256, 512),
        "bilinear": nn.Bilinear(20, 30, 40),
        "conv1d": nn.Conv1d(8, 16, 5),
        "conv2d": nn.Conv2d(16, 32, 3, groups=2),
        "conv3d": nn.Conv3d(4, 8, 3),
        "conv_transpose2d": nn.ConvTranspose2d(16, 32, 3),
        "embedding": nn.Embedding(1000, 64, padding_idx=0),
        "embedding_bag": nn.EmbeddingBag(500, 32),
        "layer_norm": nn.LayerNorm(64),
        "batch_norm2d": nn.BatchNorm2d(32),
        "group_norm": nn.GroupNorm(4, 32),
        "instance_norm": nn.InstanceNorm2d(8, affine=True, track_running_stats=True),
        "attention": nn.MultiheadAttention(64, 4),
        "attention_kv": nn.MultiheadAttention(64, 4, kdim=32, vdim=48, add_bias_kv=True),
        "rnn": nn.RNN(32, 64, num_layers=2),
        "lstm": nn.LSTM(32, 64, proj_size=16),
        "gru": nn.GRU(32, 64, bidirectional=True),
        "lstm_cell": nn.LSTMCell(32, 64),
        "prelu": nn.PReLU(16),
        "transformer": nn.Transformer(d_model=64, nhead=4, num_encoder_layers=1,
                                      num_decoder_layers=1, dim_feedforward=128),
    }


@pytest.mark.parametrize("kind", list(fresh_modules()))
def test_a_fresh_module_verifies_with_one_call(kind):
    module = fresh_modules()[kind]
    r = verinit.verify_model(module)
    assert r.passed, repr(r)
    assert not r.unmatched
    names = {c.tensor for c in r.cases}
    params = {n for n, _ in module.named_parameters()}
    assert params - set(r.tied) <= names | {n.split("[")[0] for n in names}
    assert all(c.rule for c in r.cases)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("kind", list(fresh_modules()))
def test_a_fresh_16_bit_module_verifies_with_one_call(kind, dtype):
    # Initialised in float32 and cast: every tensor is its law rounded once to the dtype, and
    # the constants (LayerNorm's ones, biases' zeros, the padding row) are exact in it.
    module = fresh_modules()[kind].to(getattr(torch, dtype))
    r = verinit.verify_model(module)
    assert r.passed, repr(r)
    assert not r.unmatched


def test_a_reinitialised_layer_is_named():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 256))
    nn.init.kaiming_normal_(model[2].weight)
    r = verinit.verify_model(model)
    assert not r.passed
    assert [c.tensor for c in r.failed] == ["2.weight"]
    doc = r.to_dict()
    assert {s["tensor"] for s in doc["schemes"]} == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_the_padding_row_must_be_zero():
    torch.manual_seed(0)
    emb = nn.Embedding(2000, 64, padding_idx=3)
    r = verinit.verify_model(emb)
    assert r.passed and "weight[rows 3]" in {c.tensor for c in r.cases}
    with torch.no_grad():
        emb.weight[3].normal_()
    r = verinit.verify_model(emb)
    assert [c.tensor for c in r.failed] == ["weight[rows 3]"]


def test_unmatched_tensors_fail_the_run_and_are_listed():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 64)
            self.scale = nn.Parameter(torch.randn(64))

    r = verinit.verify_model(Custom())
    assert not r.passed and r.unmatched == ["scale"]
    assert r.to_dict()["unmatched"] == ["scale"] and r.to_dict()["passed"] is False


def test_tied_tensors_are_verified_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(4000, 64)
            self.head = nn.Linear(64, 4000, bias=False)
            self.head.weight = self.emb.weight

    r = verinit.verify_model(Tied())
    assert r.passed and r.tied == {"head.weight": "emb.weight"}
    assert [c.tensor for c in r.cases] == ["emb.weight"]


def test_integer_tensors_must_be_skipped():
    bn = nn.BatchNorm1d(16)
    r = verinit.verify_model(bn)
    assert r.passed and "num_batches_tracked" in r.skipped
    with pytest.raises(ValueError, match="num_batches_tracked.*must say skip"):
        verinit.verify_model(bn, [{"match": "*", "expect": "ones"}])


TOML = """
layout = "torch"
[[rule]]
match = "*.bias"
expect = "uniform(a=-0.0625,b=0.0625)"
[[rule]]
match = "*.weight"
expect = "torch_linear"
"""


def test_rules_as_toml_text_path_and_data(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 128), nn.Linear(64, 256))
    assert not verinit.verify_model(model, TOML).passed  # layer 1's bias bound is 1/8, not 1/16
    model = nn.Sequential(nn.Linear(256, 128))
    assert verinit.verify_model(model, TOML).passed
    path = tmp_path / "rules.toml"
    path.write_text(TOML)
    assert verinit.verify_model(model, str(path)).passed
    assert verinit.verify_model(model, path).passed
    data = [{"match": "*.bias", "expect": "uniform(a=-0.0625,b=0.0625)"},
            {"match": "*", "expect": "torch_linear"}]
    assert verinit.verify_model(model, data).passed


def test_fans_from_another_tensor():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(400, 300))
    # U(+-sqrt(3/fan_in)) over the bias, with the fans of the weight: the same law as
    # torch_linear's bias times sqrt(3); a wrong fan is caught.
    rules = [{"match": "*.weight", "expect": "torch_linear"},
             {"match": "*.bias", "expect": "lecun_uniform", "fans_from": "{parent}.weight"}]
    with torch.no_grad():
        model[0].bias.mul_(3 ** 0.5)
    assert verinit.verify_model(model, rules).passed
    rules[1]["fan_in"], rules[1]["fan_out"] = 100, 300
    del rules[1]["fans_from"]
    assert not verinit.verify_model(model, rules).passed


@pytest.mark.parametrize("rules,words", [
    ("[[rule]]\nmatch = 1\n", "match must be a string"),
    ("[[rule]]\nmatch = '*'\n", "expect is missing"),
    ("[[rule]]\nmatch = '*'\nexpect = 'normal'\ncolour = 2\n", "has key 'colour'"),
    ("not toml [", "not valid TOML"),
    ([{"match": "*", "expect": "normal", "fan_in": 3}], "together"),
    ([{"match": "*", "expect": "normal", "layout": "tf"}], "layout is 'tf'"),
    ([{"match": "*", "expect": "normal", "fans_from": "{parent}.nothing"}], "no such tensor"),
    ([{"match": "*", "expect": "normal", "tolerance": {"variance": 2.0}}],
     r"rule 1: tolerance variance is 2, but must be in \[0, 1\)"),
    ([{"match": "*", "expect": "normal", "tolerance": {"scale": 0.1}}], "has key 'scale'"),
    ([{"match": "*", "expect": "normal", "tolerance": {"ks": float("nan")}}], "finite number"),
])
def test_bad_rules(rules, words):
    with pytest.raises(ValueError, match=words):
        verinit.verify_model({"a.weight": np.zeros((4, 4), dtype=np.float32)}, rules)


def test_a_tolerance_lets_a_harmless_quirk_pass_and_says_so():
    # 0.8% too much variance over 4e6 weights: the exact law fails (variance z ~ 11, AD too);
    # within a rule's tolerance of 1.5% variance and 0.003 KS distance it passes, AD is kept as
    # information, and the result says what was tolerated.
    w = verinit.sample((2000, 2000), "he_normal", dtype="float64", seed=7) * np.sqrt(1.008)
    assert not verinit.verify_model({"w": w}, [{"match": "w", "expect": "he_normal"}]).passed
    for rules in ([{"match": "w", "expect": "he_normal",
                    "tolerance": {"variance": 0.015, "ks": 0.003}}],
                  {"tolerance": {"variance": 0.015, "ks": 0.003},
                   "rule": [{"match": "w", "expect": "he_normal"}]}):
        r = verinit.verify_model({"w": w}, rules)
        assert r.passed, r
        case = r.cases[0]
        assert case.tolerance == {"variance": 0.015, "mean": 0.0, "ks": 0.003}
        ad = next(t for t in case.tests if t.name == "anderson_darling")
        assert ad.informational and ad.passed and ad.p_value < 1e-6
        assert r.to_dict()["schemes"][0]["tolerance"]["variance"] == 0.015
    r = verinit.verify_model({"w": w}, [{"match": "w", "expect": "he_normal",
                                          "tolerance": {"variance": 0.002, "ks": 0.003}}])
    assert not r.passed  # 0.6% beyond a 0.2% tolerance


def test_dicts_of_numpy_arrays_and_rules_needed():
    arrays = {"w": verinit.sample((128, 256), "he_normal", seed=1),
              "b": np.zeros(128, dtype=np.float32)}
    r = verinit.verify_model(arrays, [{"match": "w", "expect": "he_normal"},
                                      {"match": "b", "expect": "zeros"}])
    assert r.passed and [c.tensor for c in r.cases] == ["w", "b"]
    with pytest.raises(ValueError, match="rules are derived only"):
        verinit.verify_model(arrays)


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    codes = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": codes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_a_safetensors_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {
        "fc.weight": verinit.sample((256, 512), "torch_linear", seed=1),
        "fc.bias": verinit.sample((256,), "uniform(a=-0.044194173824159216,"
                                          "b=0.044194173824159216)", seed=2),
        "bn.num_batches_tracked": np.zeros((), dtype=np.int64)})
    rules = [{"match": "*.num_batches_tracked", "skip": True},
             {"match": "*.weight", "expect": "torch_linear"},
             {"match": "*.bias", "expect": "uniform(a=-0.044194173824159216,"
                                           "b=0.044194173824159216)"}]
    r = verinit.verify_model(path, rules)
    assert r.passed and r.skipped == ["bn.num_batches_tracked"]
    r = verinit.verify_model(path, rules[:2])
    assert not r.passed and r.unmatched == ["fc.bias"]


def test_apply_initialises_by_the_rules_deterministically():
    model = nn.Sequential(nn.Linear(256, 512), nn.LayerNorm(512), nn.Linear(512, 64))
    for p in model.parameters():
        nn.init.constant_(p, 7.0)
    vtorch.apply_(model, seed=5)
    assert verinit.verify_model(model).passed
    again = nn.Sequential(nn.Linear(256, 512), nn.LayerNorm(512), nn.Linear(512, 64))
    vtorch.apply_(again, seed=5, threads=1)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="no rule matches tensor '0.weight'"):
        vtorch.apply_(model, [{"match": "*.bias", "expect": "zeros"}])


def test_a_module_used_twice_is_verified_once_and_initialised_once():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(128, 128), nn.BatchNorm1d(128))
    model = nn.Sequential(block, nn.ReLU(), block)  # the same block twice: tied tensors
    r = verinit.verify_model(model)
    assert r.passed, repr(r)
    assert r.tied == {"2.0.weight": "0.0.weight", "2.0.bias": "0.0.bias",
                      "2.1.weight": "0.1.weight", "2.1.bias": "0.1.bias",
                      "2.1.running_mean": "0.1.running_mean",
                      "2.1.running_var": "0.1.running_var"}
    assert set(r.skipped) == {"0.1.num_batches_tracked", "2.1.num_batches_tracked"}
    vtorch.apply_(model, seed=3)
    assert verinit.verify_model(model).passed


def test_fill_refuses_what_is_not_an_array():
    with pytest.raises(ValueError, match="a list is not an array"):
        verinit.fill_([1.0, 2.0], "normal")
    with pytest.raises(ValueError, match="zero_rows"):
        vtorch.apply_(nn.Embedding(10, 4), [{"match": "*", "expect": "normal", "zero_rows": [10]}])


def test_empty_tensors_are_skipped_with_a_note():
    arrays = {"w": verinit.sample((64, 64), "he_normal"), "empty": np.zeros((0, 4), np.float32)}
    r = verinit.verify_model(arrays, [{"match": "*", "expect": "he_normal"}])
    assert r.passed and r.skipped == ["empty"] and "has no elements" in r.notes[0]
