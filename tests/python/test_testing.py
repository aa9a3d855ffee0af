"""verinit.testing: the assertion a framework's test suite writes."""

import numpy as np
import pytest

import verinit
from verinit.testing import assert_follows, assert_model_follows


def test_assert_follows_passes_and_returns_the_result():
    w = verinit.sample((512, 512), "he_uniform", seed=3)
    assert assert_follows(w, "he_uniform").passed


def test_assert_follows_names_scheme_tests_and_diagnosis():
    w = verinit.sample((512, 512), "he_uniform", seed=3) * np.sqrt(3.0)
    with pytest.raises(AssertionError) as error:
        assert_follows(w, "he_uniform")
    text = str(error.value)
    assert "he_uniform" in text
    assert "support" in text and "exact check" in text
    assert "diagnosis:" in text


def test_assert_follows_reports_the_variance_with_its_adjusted_p():
    w = verinit.sample((512, 512), "he_normal", seed=3) * 1.05
    with pytest.raises(AssertionError) as error:
        assert_follows(w, "he_normal")
    assert "variance: statistic" in str(error.value) and "adjusted p" in str(error.value)


def test_options_pass_through():
    with pytest.raises(ValueError, match="alpha"):
        assert_follows(np.zeros(10, dtype=np.float32), "normal", alpha=0)


def test_assert_model_follows_names_the_tensor():
    good = {"a.weight": verinit.sample((64, 128), "torch_linear", seed=1)}
    assert assert_model_follows(good, [{"match": "*.weight", "expect": "torch_linear"}]).passed
    bad = {"a.weight": verinit.sample((64, 128), "torch_linear", seed=1) * 2}
    with pytest.raises(AssertionError, match="a.weight"):
        assert_model_follows(bad, [{"match": "*.weight", "expect": "torch_linear"}])
