"""verinit.sample and verinit.fill_: the CLI's bits, any thread count, every dtype, and the
errors."""

import subprocess

import numpy as np
import pytest

import verinit


def test_version_is_the_cpp_version(cli):
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"verinit {verinit.__version__}"


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("scheme,shape,layout", [
    ("kaiming_normal", (64, 3, 5, 5), "torch"),
    ("glorot_uniform", (3, 3, 16, 32), "keras"),
    ("truncated_normal(std=0.02)", (1000, 70), "torch"),
    ("orthogonal(gain=2)", (40, 30), "torch"),
])
def test_sample_is_the_cli_bits(cli, tmp_path, dtype, scheme, shape, layout):
    path = tmp_path / "w.npy"
    subprocess.run([cli, "sample", "--scheme", scheme, "--shape", ",".join(map(str, shape)),
                    "--layout", layout, "--dtype", dtype, "--seed", "11", "--out", str(path)],
                   check=True, capture_output=True)
    expected = np.load(path)
    got = verinit.sample(shape, scheme, layout=layout, dtype=dtype, seed=11)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_bfloat16_is_the_cli_bits_as_uint16(cli, tmp_path):
    path = tmp_path / "w.safetensors"
    subprocess.run([cli, "sample", "--scheme", "normal(std=0.02)", "--shape", "300,200",
                    "--dtype", "bfloat16", "--seed", "5", "--out", str(path)],
                   check=True, capture_output=True)
    raw = path.read_bytes()
    header = int.from_bytes(raw[:8], "little")
    expected = np.frombuffer(raw[8 + header:], dtype="<u2")
    got = verinit.sample((300, 200), "normal(std=0.02)", dtype="bfloat16", seed=5)
    assert got.dtype == np.uint16
    assert got.tobytes() == expected.tobytes()
    # bfloat16 bits are float32's top half: read as float32, the values have the law's std.
    as_float = (got.astype(np.uint32) << 16).view(np.float32)
    assert abs(float(as_float.std()) - 0.02) < 0.001


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_threads_never_change_the_bits(dtype):
    shape = (700, 300)  # > 3 blocks of the parallel fill
    one = verinit.sample(shape, "he_uniform", dtype=dtype, seed=3, threads=1)
    two = verinit.sample(shape, "he_uniform", dtype=dtype, seed=3, threads=2)
    seven = verinit.sample(shape, "he_uniform", dtype=dtype, seed=3, threads=7)
    assert one.tobytes() == two.tobytes() == seven.tobytes()


def test_fill_equals_sample():
    a = np.empty((128, 256), dtype=np.float32)
    assert verinit.fill_(a, "lecun_normal", seed=9) is a
    assert a.tobytes() == verinit.sample((128, 256), "lecun_normal", seed=9).tobytes()
    h = np.empty((128, 256), dtype=np.float16)
    verinit.fill_(h, "lecun_normal", seed=9)
    assert h.tobytes() == verinit.sample((128, 256), "lecun_normal", dtype="float16",
                                         seed=9).tobytes()
    b = np.empty((128, 256), dtype=np.uint16)
    verinit.fill_(b, "lecun_normal", seed=9, dtype="bfloat16")
    assert b.tobytes() == verinit.sample((128, 256), "lecun_normal", dtype="bfloat16",
                                         seed=9).tobytes()


def test_different_seeds_differ():
    assert verinit.sample(1000, "normal", seed=1).tobytes() != verinit.sample(
        1000, "normal", seed=2).tobytes()


@pytest.mark.parametrize("call,words", [
    (lambda: verinit.sample((3, 3), "kaiming_nromal"), "kaiming_nromal"),
    (lambda: verinit.sample((3, 0), "normal"), "dim"),
    (lambda: verinit.sample((3, 3), "normal", dtype="int8"), "'int8'"),
    (lambda: verinit.sample((3, 3), "normal", layout="tf"), "tf"),
    (lambda: verinit.sample((3, 3), "normal", seed=-1), "seed is -1"),
    (lambda: verinit.sample((3, 3), "normal", threads=5000), "threads is 5000"),
    (lambda: verinit.sample((3,), "kaiming_normal"), "fan"),
    (lambda: verinit.sample((3, 3), "normal(std=1e5)", dtype="float16"), "float16"),
    (lambda: verinit.sample((3, 3), "normal(std=1e-9)", dtype="float16"), "float16"),
    (lambda: verinit.sample((3, 3), "normal(std=1e308)"), "float32"),
    (lambda: verinit.sample("3,3", "normal"), "shape"),
])
def test_bad_arguments_raise_value_error_naming_the_value(call, words):
    with pytest.raises(ValueError, match=None) as error:
        call()
    assert words in str(error.value)
    assert "\n" not in str(error.value)


def test_fill_refuses_what_it_cannot_write():
    a = np.zeros((10, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        verinit.fill_(a.T, "normal")
    a.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        verinit.fill_(a, "normal")
    with pytest.raises(ValueError, match="format"):
        verinit.fill_(np.zeros(10, dtype=np.int32), "normal")
    with pytest.raises(ValueError, match="bit patterns need"):
        verinit.fill_(np.zeros(10, dtype=np.uint16), "normal")
    with pytest.raises(ValueError, match="holds float32"):
        verinit.fill_(np.zeros(10, dtype=np.float32), "normal", dtype="float64")
    with pytest.raises(ValueError, match="big-endian"):
        verinit.fill_(np.zeros(10, dtype=">f4"), "normal")


def test_catalogue_and_canonical():
    names = {s["name"] for s in verinit.schemes()}
    assert {"kaiming_normal", "glorot_uniform", "torch_linear", "orthogonal"} <= names
    assert verinit.canonical("glorot_uniform") == "xavier_uniform(gain=1)"


def test_the_gil_is_released_while_sampling_and_verifying():
    # While a thread samples and verifies 2*10^7 weights (~0.5 s), this thread keeps running
    # Python: with the GIL held through the calls it could not (a few thousand iterations at
    # most, before the worker enters C++).
    import threading

    done = []

    def work():
        w = verinit.sample((4000, 5000), "he_normal", threads=1)
        done.append(verinit.verify(w, "he_normal", threads=1).passed)

    worker = threading.Thread(target=work)
    worker.start()
    iterations = 0
    while worker.is_alive():
        iterations += 1
    worker.join()
    assert done == [True]
    assert iterations > 100_000
