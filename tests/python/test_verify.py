"""verinit.verify: numpy arrays, files, the Result object, determinism, power on real bugs, and
the errors."""

import json
import subprocess

import numpy as np
import pytest

import verinit


@pytest.fixture(scope="module")
def weights():
    return verinit.sample((512, 1024), "kaiming_normal", seed=21)


def test_correct_weights_pass_and_the_result_says_what_ran(weights):
    r = verinit.verify(weights, "kaiming_normal")
    assert r.passed and bool(r)
    assert len(r.cases) == 1
    case = r.cases[0]
    assert case.n == weights.size and case.shape == (512, 1024) and case.dtype == "float32"
    assert case.canonical.startswith("kaiming_normal(")
    names = [t.name for t in r.tests]
    for name in ("support", "ks", "anderson_darling", "mean", "variance"):
        assert name in names
    for t in r.tests:
        assert t.passed and 0 <= t.p_value <= 1 and t.p_value <= t.p_adjusted <= 1
    assert case.diagnosis is None
    assert "PASSED" in repr(r) and "kaiming_normal" in repr(r)


def test_a_dropped_gain_fails_and_is_diagnosed(weights):
    r = verinit.verify(weights / np.sqrt(2), "kaiming_normal")
    assert not r.passed and not bool(r)
    failed = {t.name for t in r.cases[0].failed_tests}
    assert "variance" in failed
    assert "gain of sqrt(2) dropped" in r.cases[0].diagnosis


def test_to_dict_is_the_cli_json(cli, tmp_path, weights):
    path = tmp_path / "w.npy"
    np.save(path, weights)
    out = tmp_path / "cli.json"
    subprocess.run([cli, "verify", "--input", str(path), "--expect", "kaiming_normal", "--json",
                    str(out)], check=True, capture_output=True)
    cli_doc = json.loads(out.read_text())
    doc = verinit.verify(weights, "kaiming_normal").to_dict()
    # The same document but for where the samples came from, how long it took, and the
    # samples' summary (computed for a report only).
    assert "summary" not in doc["schemes"][0]
    cli_doc["schemes"][0].pop("summary")
    assert doc["schemes"][0].pop("source") == "numpy"
    assert cli_doc["schemes"][0].pop("source") == str(path)
    for d in (doc, cli_doc):
        d.pop("timing")
        d.pop("threads")  # each resolves "all cores" its own way
    assert doc == cli_doc
    again = verinit.verify(weights, "kaiming_normal")
    assert json.loads(again.to_json()) == again.to_dict()


def test_paths_npy_and_safetensors(tmp_path, cli, weights):
    path = tmp_path / "w.npy"
    np.save(path, weights)
    r = verinit.verify(str(path), "kaiming_normal")
    assert r.passed and r.cases[0].source == str(path)
    st = tmp_path / "w.safetensors"
    subprocess.run([cli, "sample", "--scheme", "normal(std=0.02)", "--shape", "1024,1024",
                    "--dtype", "bfloat16", "--out", str(st), "--name", "layer.weight"],
                   check=True, capture_output=True)
    r = verinit.verify(st, "normal(std=0.02)")
    assert r.passed and r.cases[0].dtype == "bfloat16"
    assert verinit.verify(st, "normal(std=0.02)", tensor="layer.weight").passed
    with pytest.raises(ValueError, match="has no tensor 'bias'"):
        verinit.verify(st, "normal", tensor="bias")
    with pytest.raises(OSError, match="missing.npy"):
        verinit.verify(tmp_path / "missing.npy", "normal")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(OSError, match="bad.npy"):
        verinit.verify(tmp_path / "bad.npy", "normal")


def test_bfloat16_bits_and_float16_arrays():
    bits = verinit.sample((1000, 1000), "he_normal", dtype="bfloat16", seed=4)
    r = verinit.verify(bits, "he_normal", dtype="bfloat16")
    assert r.passed and r.cases[0].dtype == "bfloat16"
    assert {"chi_square", "support"} <= {t.name for t in r.tests}
    half = verinit.sample((1000, 1000), "he_normal", dtype="float16", seed=4)
    assert verinit.verify(half, "he_normal").passed
    # Truncating float32 to bfloat16 (dropping the low 16 bits) instead of rounding: caught.
    f32 = verinit.sample((1000, 1000), "he_normal", seed=4)
    truncated = (f32.view(np.uint32) >> 16).astype(np.uint16)
    assert not verinit.verify(truncated, "he_normal", dtype="bfloat16").passed


def test_npy_files_of_bit_patterns_need_their_dtype(tmp_path):
    bits = verinit.sample((500, 400), "he_normal", dtype="bfloat16", seed=6)
    np.save(tmp_path / "bits.npy", bits)
    r = verinit.verify(tmp_path / "bits.npy", "he_normal", dtype="bfloat16")
    assert r.passed and r.cases[0].dtype == "bfloat16"
    with pytest.raises(OSError, match="--input-dtype bfloat16 or float16"):
        verinit.verify(tmp_path / "bits.npy", "he_normal")
    np.save(tmp_path / "f32.npy", bits.astype(np.float32))
    with pytest.raises(OSError, match="holds float32"):
        verinit.verify(tmp_path / "f32.npy", "he_normal", dtype="bfloat16")


def test_float32_on_the_bfloat16_grid_is_tested_against_the_rounded_law():
    bits = verinit.sample((1000, 1000), "he_normal", dtype="bfloat16", seed=8)
    as_float = (bits.astype(np.uint32) << 16).view(np.float32)
    r = verinit.verify(as_float, "he_normal")
    assert r.passed
    assert "bfloat16" in r.tests[0].note


def test_threads_give_the_same_result(weights):
    one = verinit.verify(weights, "kaiming_normal", threads=1).to_dict()
    two = verinit.verify(weights, "kaiming_normal", threads=2).to_dict()
    for doc in (one, two):
        doc.pop("timing")
        doc.pop("threads")  # the count used, which is all the results differ in
    assert one == two


def test_non_contiguous_and_big_endian_arrays_are_verified_as_their_values(weights):
    assert verinit.verify(np.asfortranarray(weights), "kaiming_normal", shape=(512, 1024)).passed
    assert verinit.verify(weights.astype(">f4"), "kaiming_normal").passed


def test_write_report_and_html(tmp_path, weights):
    r = verinit.verify(weights, "kaiming_normal")
    index = r.write_report(tmp_path / "report")
    assert index.endswith("index.html")
    text = open(index).read()
    assert "<svg" in text and "kaiming_normal" in text
    for name in ("summary.md", "results.json", "junit.xml"):
        assert (tmp_path / "report" / name).exists()
    html = r._repr_html_()
    assert html.startswith("<p><b>PASSED") and "<iframe srcdoc=" in html and "&lt;svg" in html


def test_a_report_of_data_changed_after_verify_is_refused(tmp_path):
    w = verinit.sample((256, 256), "he_normal", seed=2)
    r = verinit.verify(w, "he_normal")
    w *= 2
    with pytest.raises(ValueError, match="the data changed after verify"):
        r.write_report(tmp_path / "report")


@pytest.mark.parametrize("kwargs,words", [
    (dict(expect="nope"), "nope"),
    (dict(expect="normal", alpha=2), "alpha is 2"),
    (dict(expect="normal", seed="x"), "seed is 'x'"),
    (dict(expect="normal", threads=-1), "threads is -1"),
    (dict(expect="normal", memory="lots"), "memory is 'lots'"),
    (dict(expect="normal", dtype="bfloat16"), "dtype is 'bfloat16'"),
    (dict(expect="normal", tensor="w"), "tensor is 'w'"),
    (dict(expect="normal", layout="rows"), "rows"),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as error:
        verinit.verify(np.zeros(100, dtype=np.float32), **kwargs)
    assert words in str(error.value)


def test_integer_arrays_are_refused():
    with pytest.raises(ValueError, match="format"):
        verinit.verify(np.zeros(100, dtype=np.int64), "normal")
