"""verinit.torch.record(): the laws a model's own code applies, recorded while it is built, and
verify_model(model) with no rules against them. Law algebra, every construct the recorder
knows (nn.init by name, Tensor samplers and fills, factories, scalar transforms, Parameter(t),
w.data = t, tying, zero rows, the classic trunc_normal_ sequence), what it refuses
(uninitialised, unrecordable), the TOML export read by the command line, and real models
(torchvision, torchaudio) with mutants made the way real code goes wrong: each fails exactly
its tensor. Fixed seeds: torch.manual_seed for the models, verinit's default seed for the run.
"""

import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import verinit
import verinit.torch as vt
from verinit.torch import _laws

torchvision = pytest.importorskip("torchvision")


def build(make, seed=0):
    torch.manual_seed(seed)
    with vt.record() as rec:
        model = make()
    return model, rec


def laws(model, rec):
    return {name: law for name, law in rec.laws(model).items()}


# ---- the law algebra -----------------------------------------------------------------------


def test_affine_maps_are_exact():
    n = _laws.normal_law(1.0, 2.0)
    assert _laws.affine(n, -3.0, 0.5, "", "").params == ("normal", -2.5, 6.0)
    u = _laws.uniform_law(-1.0, 3.0)
    assert _laws.affine(u, -2.0, 1.0, "", "").params == ("uniform", -5.0, 3.0)
    t = _laws.truncated_normal_law(0.0, 1.0, -2.0, 2.0)
    assert _laws.affine(t, 0.5, 1.0, "", "").params == ("truncated_normal", 1.0, 0.5, 0.0, 2.0)
    assert _laws.affine(_laws.constant_law(2.0), 0.5, 0.0, "", "").spec == "ones"


def test_erfinv_of_a_uniform_is_a_truncated_normal():
    # erfinv(U(2F(a) - 1, 2F(b) - 1)) * sqrt(2) ~ N(0, 1) on [a, b] (F the normal cdf).
    F = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))  # noqa: E731
    u = _laws.uniform_law(2 * F(-1.5) - 1, 2 * F(2.5) - 1)
    law = _laws.affine(_laws.erfinv_of(u, "", ""), math.sqrt(2), 0.0, "", "")
    family, mean, std, a, b = law.params
    assert family == "truncated_normal" and mean == 0
    assert std == pytest.approx(1, rel=1e-15)
    assert a == pytest.approx(-1.5, rel=1e-13) and b == pytest.approx(2.5, rel=1e-13)
    for y in (-0.999999, -0.5, 1e-9, 0.3, 0.9999):
        assert math.erf(_laws._erfinv(y)) == pytest.approx(y, rel=1e-14)


def test_a_clamp_keeps_a_law_only_where_it_moves_no_mass():
    n = _laws.normal_law(0.0, 0.02)
    # +-2 is 100 sd: the clamp moves mass e^-5000, so it is the truncation.
    assert _laws.clamped(n, -2.0, 2.0, "", "").params == ("truncated_normal", 0.0, 0.02, -2.0,
                                                           2.0)
    assert _laws.clamped(n, -0.02, 0.02, "", "") is None  # a clipped normal: atoms at +-1 sd


def test_fan_schemes_resolve_as_torch_computes_them():
    w = torch.empty(64, 32, 3, 3)
    for name, kwargs in [("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
                         ("kaiming_uniform_", dict(a=math.sqrt(5))),
                         ("xavier_uniform_", dict(gain=1.5)), ("xavier_normal_", {})]:
        with vt.record() as rec:
            getattr(nn.init, name)(w, **kwargs)
        law = _laws.concrete(rec.laws({"w": w})["w"])
        # The std torch's own code computes (torch/nn/init.py), from its own helpers.
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
        if name.startswith("kaiming"):
            fan = fan_in if kwargs.get("mode", "fan_in") == "fan_in" else fan_out
            std = nn.init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"),
                                         kwargs.get("a", 0)) / math.sqrt(fan)
        else:
            std = kwargs.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
        if name.endswith("uniform_"):
            assert law.params[2] == pytest.approx(math.sqrt(3) * std, rel=1e-15)
        else:
            assert law.params[2] == pytest.approx(std, rel=1e-15)


# ---- what the recorder records -------------------------------------------------------------


def test_nn_init_is_recorded_by_name_with_its_call_site():
    def make():
        m = nn.Conv2d(16, 32, 3)
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(m.bias)
        return m

    m, rec = build(make)
    got = laws(m, rec)
    assert got["weight"].spec == "kaiming_normal(a=0,mode=fan_out,nonlinearity=relu)"
    assert got["weight"].call == "nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu')"
    assert got["weight"].site.endswith(f"test_record.py:{make.__code__.co_firstlineno + 2}")
    assert got["bias"].spec == "zeros"
    assert verinit.verify_model(m)


def test_module_defaults_are_recorded_from_torchs_own_code():
    m, rec = build(lambda: nn.Sequential(nn.Linear(300, 200), nn.LayerNorm(200),
                                         nn.Embedding(50, 8, padding_idx=3)))
    got = laws(m, rec)
    assert got["0.weight"].spec == ("kaiming_uniform(a=2.23606797749979,mode=fan_in,"
                                    "nonlinearity=leaky_relu)")
    assert got["0.bias"].params == ("uniform", -1 / math.sqrt(300), 1 / math.sqrt(300))
    assert got["0.weight"].site.startswith("torch/nn/modules/linear.py:")
    assert (got["1.weight"].spec, got["1.bias"].spec) == ("ones", "zeros")
    # Embedding: normal_ then row padding_idx filled with 0.
    assert got["2.weight"].spec == "normal(mean=0,std=1)"
    assert got["2.weight"].zero_rows == (3,)
    assert verinit.verify_model(m)


def test_tensor_samplers_factories_and_scalar_transforms():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(64, 1, 1) * 1e-6)  # ConvNeXt's layer scale
            self.a = nn.Parameter(torch.randn(40, 30) * 0.02 + 1)
            self.b = nn.Parameter(torch.empty(40, 30).uniform_(-2, 4).div_(2))
            self.c = nn.Parameter(torch.zeros(10))
            self.c.data.fill_(0.25)
            self.d = nn.Parameter(torch.empty(500, 20))
            self.d.data = torch.rand(500, 20).sub(0.5).mul(2)  # w.data = t
            self.e = nn.Parameter(-torch.randn(200, 10) / 4)

    m, rec = build(Block)
    got = laws(m, rec)
    assert got["scale"].spec == "constant(value=1e-06)"
    assert got["a"].params == ("normal", 1.0, 0.02)
    assert got["b"].params == ("uniform", -1.0, 2.0)
    assert got["c"].spec == "constant(value=0.25)"
    assert got["d"].params == ("uniform", -1.0, 1.0)
    assert got["e"].params == ("normal", -0.0, 0.25)
    result = verinit.verify_model(m)
    assert result, result.summary()


def test_the_classic_in_place_trunc_normal_sequence_is_a_truncated_normal():
    # The implementation of older torch, timm and Hugging Face, written out.
    def trunc_normal(t, mean, std, a, b):
        F = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
        lo, hi = F((a - mean) / std), F((b - mean) / std)
        with torch.no_grad():
            t.uniform_(2 * lo - 1, 2 * hi - 1)
            t.erfinv_()
            t.mul_(std * math.sqrt(2))
            t.add_(mean)
            t.clamp_(min=a, max=b)
        return t

    m, rec = build(lambda: nn.ParameterDict({
        "x": nn.Parameter(trunc_normal(torch.empty(300, 300), 0.1, 0.5, -0.5, 1.0))}))
    family, mean, std, a, b = laws(m, rec)["x"].params
    assert family == "truncated_normal"
    assert (mean, a, b) == (pytest.approx(0.1, abs=1e-15), pytest.approx(-0.5, rel=1e-12),
                            pytest.approx(1.0, rel=1e-12))
    assert std == pytest.approx(0.5, rel=1e-15)
    assert verinit.verify_model(m)


def test_tied_and_shared_storages_carry_their_law():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, 16)
            self.head = nn.Linear(16, 100, bias=False)
            self.head.weight = self.emb.weight

    m, rec = build(Tied)
    got = laws(m, rec)
    assert got["emb.weight"].spec == got["head.weight"].spec == "normal(mean=0,std=1)"
    result = verinit.verify_model(m)
    assert result and result.tied == {"head.weight": "emb.weight"}


def test_uninitialised_and_unrecordable_tensors_fail_and_are_named():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.fine = nn.Linear(20, 20)
            self.never = nn.Parameter(torch.empty(20, 20))
            self.odd = nn.Parameter(torch.empty(50, 50))
            with torch.no_grad():
                self.odd.exponential_()

    m, rec = build(Bad)
    got = laws(m, rec)
    assert got["never"].kind == _laws.UNINITIALISED
    assert got["odd"].kind == _laws.UNRECORDABLE and "exponential_" in got["odd"].call
    result = verinit.verify_model(m)
    assert not result
    assert sorted(result.unmatched) == ["never", "odd"]
    assert any("never" in n and "allocated and never written" in n for n in result.notes)
    assert any("odd" in n and "exponential_" in n for n in result.notes)
    # A rule passed beside the record covers one: the other still fails.
    result = verinit.verify_model(m, [{"match": "odd", "skip": True}])
    assert result.unmatched == ["never"]


def test_integer_and_derived_tensors_are_skipped_and_said():
    m, rec = build(lambda: nn.utils.weight_norm(nn.Conv1d(8, 8, 5)))
    got = laws(m, rec)
    assert got["weight_g"].kind == _laws.DERIVED
    assert got["weight_v"].spec.startswith("kaiming_uniform")
    result = verinit.verify_model(m)
    assert result, result.summary()
    assert "weight_g" in result.skipped
    assert any("weight_g" in n and "derived" in n for n in result.notes)
    bn, rec = build(lambda: nn.BatchNorm2d(4))
    assert laws(bn, rec)["num_batches_tracked"].kind == _laws.COMPUTED
    rules, _ = rec.rules(bn)
    assert [r for r in rules if r["match"] == "num_batches_tracked"][0]["skip"]


def test_records_do_not_nest_and_free_the_hooks():
    original = nn.init.kaiming_normal_
    with vt.record():
        with pytest.raises(RuntimeError, match="another record is open"):
            with vt.record():
                pass
    assert nn.init.kaiming_normal_ is original
    assert nn.Module.__init__.__name__ == "__init__"
    # A model built outside any record falls back to PyTorch's module defaults.
    torch.manual_seed(0)
    plain = nn.Linear(10, 10)
    assert vt.find_record(plain) is None
    assert verinit.verify_model(plain)


# ---- real models: zero configuration, mutants, the TOML export ----------------------------

QUICK = ["resnet18", "mobilenet_v3_small", "squeezenet1_1", "regnet_x_400mf", "shufflenet_v2_x0_5"]


@pytest.mark.parametrize("name", QUICK)
def test_torchvision_models_pass_with_no_rules(name):
    model, rec = build(lambda: torchvision.models.get_model(name, weights=None))
    result = verinit.verify_model(model)
    assert result, result.summary() + "\n" + repr(result)
    assert not result.unmatched


def test_torchaudio_model_passes_with_no_rules():
    torchaudio = pytest.importorskip("torchaudio")
    model, rec = build(lambda: torchaudio.models.WaveRNN(
        upsample_scales=[5, 5, 8], n_classes=512, hop_length=200))
    result = verinit.verify_model(model)
    assert result, result.summary() + "\n" + repr(result)


def failing(result):
    return sorted({c.tensor for c in result.failed} | set(result.unmatched))


def test_mutants_that_leave_the_recorded_law_fail_exactly_their_tensor():
    model, rec = build(lambda: torchvision.models.resnet18(weights=None))
    baseline = verinit.verify_model(model)
    assert baseline
    with torch.no_grad():
        # A bias zeroed after construction: all equal under a continuous law.
        model.fc.bias.zero_()
        # A layer re-drawn after construction with another law.
        nn.init.normal_(model.layer2[0].conv1.weight, std=0.05)
        # A load that skipped one tensor: it holds another layer's values (here, a BN
        # weight left at a constant where the code wrote ones).
        model.layer3[1].bn2.weight.fill_(0.5)
        # A bfloat16 round trip by truncation (the low 16 bits cut, not rounded).
        w = model.layer4[0].conv2.weight
        w.copy_((w.view(torch.int32) & -65536).view(torch.float32))
    result = verinit.verify_model(model)
    assert failing(result) == ["fc.bias", "layer2.0.conv1.weight", "layer3.1.bn2.weight",
                               "layer4.0.conv2.weight"], result.summary()
    by_tensor = {c.tensor: c for c in result.failed}
    support = [t for t in by_tensor["fc.bias"].tests if t.name == "support"][0]
    assert not support.passed and "all 1000 values equal 0" in support.note


def test_a_layer_left_at_torch_empty_fails_zero_config():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torchvision.models.squeezenet1_1(weights=None)
            self.extra = nn.Parameter(torch.empty(64, 64))  # never initialised

    model, rec = build(Net)
    result = verinit.verify_model(model)
    assert failing(result) == ["extra"]


def test_code_changes_fail_against_the_laws_file_recorded_from_the_unchanged_code(tmp_path):
    # The CI-gate use: laws recorded from the reviewed code, kept as a file; a change of the
    # code's own law (fan_in for fan_out, a dropped gain, a second apply over one layer) is
    # seen against that file, though it passes against its own new record.
    good, rec = build(lambda: torchvision.models.resnet18(weights=None))
    laws_file = tmp_path / "laws.toml"
    laws_file.write_text(rec.to_toml(good))

    def mutant():
        m = torchvision.models.resnet18(weights=None)
        nn.init.kaiming_normal_(m.layer2[0].conv1.weight, mode="fan_in", nonlinearity="relu")
        nn.init.kaiming_normal_(m.layer3[0].conv2.weight, mode="fan_out", nonlinearity="linear")
        m.layer4[1].conv1.apply(lambda c: nn.init.xavier_uniform_(c.weight))
        return m

    changed, rec2 = build(mutant)
    assert verinit.verify_model(changed)  # its own record agrees with itself
    result = verinit.verify_model(changed.state_dict(), str(laws_file))
    assert failing(result) == ["layer2.0.conv1.weight", "layer3.0.conv2.weight",
                               "layer4.1.conv1.weight"], result.summary()


def test_the_record_command_saves_weights_and_laws_that_the_cli_verifies(tmp_path, cli):
    out = tmp_path / "m"
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "verinit.torch", "record",
                           "torchvision.models:resnet18", "--out", str(out)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout
    text = (out / "laws.toml").read_text()
    assert "origin = \"nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu') at torchvision/models/resnet.py:" in text
    html = (out / "report" / "index.html").read_text()
    assert "set by nn.init.kaiming_normal_(mode=&apos;fan_out&apos;" in html  # the report
    assert (out / "report" / "index.html").exists()
    run = subprocess.run([cli, "verify", "--input", str(out / "model.safetensors"), "--rules",
                          str(out / "laws.toml")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    bad = subprocess.run([sys.executable, "-m", "verinit.torch", "record", "nosuch:thing",
                          "--out", str(out)], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "cannot import 'nosuch'" in bad.stderr


def test_a_model_checked_against_defaults_is_told_it_probably_reinitialised(tmp_path):
    # resnet18 built outside record(): its convs fail torch's Conv2d default, and the note
    # says what they fit and how to record; the failing run costs no more than twice a passing
    # one (the identification reads 2^14 values per tensor): timed in the corpus benchmark.
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    result = verinit.verify_model(model)
    assert not result
    hint = [n for n in result.notes if n.startswith("tensor 'conv1.weight'")]
    assert hint and "kaiming_normal(mode=fan_out)" in hint[0] and "record()" in hint[0]


def test_rules_state_real_laws_by_expression_module_and_shape():
    # EfficientNet's classifier U(+-1/sqrt(out_features)) and conv kaiming_normal(fan_out),
    # stated by hand as rules a user writes: a module class (Conv2d, not BatchNorm2d), an
    # expression over shape[0], a constant.
    torch.manual_seed(0)
    model = torchvision.models.efficientnet_b0(weights=None)
    rules = {
        "constants": {"gain": 2.0},
        "rule": [
            {"match": "*.weight", "module": "Conv2d",
             "expect": "normal(std=sqrt(gain/fan_out))"},
            {"match": "classifier.1.weight", "expect": "uniform(a=-1/sqrt(shape[0]), "
             "b=1/sqrt(shape[0]))"},
            {"match": "*.weight", "rank": 1, "expect": "ones"},
            {"match": "*num_batches_tracked", "skip": True},
            {"match": "*running_var", "expect": "ones"},
            {"match": "*", "rank": 1, "expect": "zeros"},
        ]}
    result = verinit.verify_model(model, rules)
    assert result, result.summary()
    # The module key sees subclasses and nothing else: a Linear rule matches no conv.
    wrong = {"rule": [{"match": "*", "module": "Linear", "skip": True}]}
    assert len(verinit.verify_model(model, wrong).unmatched) > 100


def test_python_level_torch_functions_dispatch_through_the_record():
    # torch.meshgrid is a Python function that dispatches through handle_torch_function, which
    # pops the mode stack's top (MaxViT's and the detection models' constructors call such
    # functions): the record must be on that stack, and leave it empty.
    class Grid(nn.Module):
        def __init__(self):
            super().__init__()
            ys, xs = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
            self.register_buffer("index", (ys * 4 + xs).flatten())
            self.table = nn.Parameter(torch.zeros(49, 3))
            nn.init.trunc_normal_(self.table, std=0.02)
            self.proj = nn.Linear(3, 3)

    model, rec = build(Grid)
    assert torch._C._len_torch_function_stack() == 0
    assert laws(model, rec)["table"].spec == "truncated_normal(mean=0,std=0.02,a=-2,b=2)"
    assert laws(model, rec)["proj.weight"].spec.startswith("kaiming_uniform")
    result = verinit.verify_model(model)
    assert result and "index" in result.skipped


def test_defaults_skip_integer_tensors_of_any_module():
    class WithIndex(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.register_buffer("relative_position_index", torch.arange(16).view(4, 4))

    torch.manual_seed(0)
    model = WithIndex()
    result = verinit.verify_model(model)  # outside any record: torch's defaults
    assert result and "relative_position_index" in result.skipped


def test_item_assignment_is_recorded():
    # t[key] = value: torch 1.13's function mode does not see it when value is a tensor, so the
    # record wraps Tensor.__setitem__ (HDemucs: `bias.data[:] = -2`, a smoothed embedding
    # written back with `weight.data[:] = cumsum(...)`).
    class Demucsish(nn.Module):
        def __init__(self):
            super().__init__()
            self.decay = nn.Conv1d(8, 8, 1)
            self.decay.bias.data[:] = -2
            self.emb = nn.Embedding(16, 4)
            smooth = torch.cumsum(self.emb.weight.data, dim=0)
            self.emb.weight.data[:] = smooth / torch.arange(1, 17).sqrt()[:, None]
            self.emb.weight.data /= 10
            self.head = nn.Parameter(torch.empty(6, 6))
            self.head.data[:] = torch.randn(6, 6) * 0.5
            self.head.data[2] = 0

    model, rec = build(Demucsish)
    got = laws(model, rec)
    assert got["decay.bias"].spec == "constant(value=-2)"
    assert got["emb.weight"].kind == _laws.DERIVED  # a smoothed random walk: not a draw
    assert got["head"].spec == "normal(mean=0,std=0.5)" and got["head"].zero_rows == (2,)
    assert torch.Tensor.__setitem__ is torch._C._TensorBase.__setitem__
    result = verinit.verify_model(model)
    assert result, result.summary()
