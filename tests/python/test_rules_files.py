"""The example rules files in verify/rules/: each covers the model it is written for (every
tensor matched, counters skipped, ties found), passes one initialised by that convention and
fails one that is not."""

import math
import os

import numpy as np
import pytest

import verinit

torch = pytest.importorskip("torch")
nn = torch.nn

RULES = os.path.join(os.path.dirname(__file__), "..", "..", "verify", "rules")


def rules(name):
    return os.path.join(RULES, name)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(64)
        self.attn = nn.MultiheadAttention(64, 4)
        self.fc = nn.Linear(64, 256)
        self.conv = nn.Conv1d(64, 32, 3)


class TorchModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 64)
        self.layers = nn.ModuleList([Block(), Block()])
        self.rnn = nn.LSTM(64, 256)
        self.batchnorm = nn.BatchNorm1d(32)
        self.head = nn.Linear(256, 10)


def test_pytorch_defaults_cover_a_freshly_built_model():
    torch.manual_seed(0)
    model = TorchModel()
    r = verinit.verify_model(model, rules("pytorch_defaults.toml"))
    assert r.passed, repr(r)
    assert not r.unmatched and r.skipped == ["batchnorm.num_batches_tracked"]
    # The same model after a Xavier re-init of its Linear weights fails, by name.
    nn.init.xavier_uniform_(model.head.weight)
    r = verinit.verify_model(model, rules("pytorch_defaults.toml"))
    assert [c.tensor for c in r.failed] == ["head.weight"]


class GPT2(nn.Module):
    """Hugging Face's GPT-2 names, 2 layers of width 64."""

    def __init__(self):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(1000, 64)
        self.transformer.wpe = nn.Embedding(128, 64)
        self.transformer.h = nn.ModuleList()
        for _ in range(2):
            block = nn.Module()
            block.ln_1, block.ln_2 = nn.LayerNorm(64), nn.LayerNorm(64)
            block.attn = nn.Module()
            block.attn.c_attn, block.attn.c_proj = nn.Linear(64, 192), nn.Linear(64, 64)
            block.mlp = nn.Module()
            block.mlp.c_fc, block.mlp.c_proj = nn.Linear(64, 256), nn.Linear(256, 64)
            self.transformer.h.append(block)
        self.transformer.ln_f = nn.LayerNorm(64)
        self.lm_head = nn.Linear(64, 1000, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def init_gpt2(self, n_layer=12):
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * n_layer))
            elif "ln_" in name:
                nn.init.ones_(p) if name.endswith("weight") else nn.init.zeros_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, std=0.02)


def test_gpt2_rules_pass_gpt2s_init_and_fail_torchs_defaults():
    torch.manual_seed(0)
    model = GPT2()
    r = verinit.verify_model(model, rules("gpt2.toml"))
    assert not r.passed  # torch's Linear defaults are not GPT-2's
    model.init_gpt2()
    r = verinit.verify_model(model, rules("gpt2.toml"))
    assert r.passed, repr(r)
    assert r.tied == {"lm_head.weight": "transformer.wte.weight"} and not r.unmatched
    # The residual projections without their 1/sqrt(2 n_layer): named.
    nn.init.normal_(model.transformer.h[1].mlp.c_proj.weight, std=0.02)
    r = verinit.verify_model(model, rules("gpt2.toml"))
    assert [c.tensor for c in r.failed] == ["transformer.h.1.mlp.c_proj.weight"]


def test_keras3_rules_on_keras_shaped_weights():
    # Keras 3's defaults as documented (Keras is not installed here): kernels [in, out].
    limit = math.sqrt(6 / (128 + 64))
    weights = {
        "dense/kernel": verinit.sample((128, 64), "glorot_uniform", layout="keras", seed=1),
        "dense/bias": np.zeros(64, np.float32),
        "embedding/embeddings": verinit.sample((5000, 32), "uniform(a=-0.05,b=0.05)", seed=2),
        "conv2d/kernel": verinit.sample((3, 3, 16, 32), "glorot_uniform", layout="keras", seed=3),
        "batch_normalization/gamma": np.ones(32, np.float32),
        "batch_normalization/beta": np.zeros(32, np.float32),
        "batch_normalization/moving_mean": np.zeros(32, np.float32),
        "batch_normalization/moving_variance": np.ones(32, np.float32),
        "lstm/recurrent_kernel": verinit.sample((64, 256), "orthogonal", layout="keras", seed=4),
        "lstm/bias": np.r_[np.zeros(64), np.ones(64), np.zeros(128)].astype(np.float32),
    }
    r = verinit.verify_model(weights, rules("keras3.toml"))
    assert r.passed, repr(r)
    assert not r.skipped
    assert [c.tensor for c in r.cases if c.tensor.startswith("lstm/bias")] == [
        f"lstm/bias[block {k} of 4]" for k in range(1, 5)]
    # A forget gate left at zero (unit_forget_bias lost) fails its block alone.
    forgot = dict(weights, **{"lstm/bias": np.zeros(256, np.float32)})
    assert [c.tensor for c in verinit.verify_model(forgot, rules("keras3.toml")).failed] == [
        "lstm/bias[block 2 of 4]"]
    weights["dense/kernel"] = np.random.default_rng(0).uniform(
        -limit * 2, limit * 2, (128, 64)).astype(np.float32)
    assert [c.tensor for c in verinit.verify_model(weights, rules("keras3.toml")).failed] == [
        "dense/kernel"]
