"""The PEP 517 build backend of the verinit wheel (pyproject.toml names it).

build_wheel configures the project with CMake for the running interpreter, builds the target
verinit_python (the C++ core as position-independent code and the extension module, the pure
Python modules copied beside it), and packs ${build}/python/verinit into a wheel with the
dist-info PEP 427 asks for. The CMake build directory is build/python-wheel under the source
tree (VERINIT_WHEEL_BUILD_DIR overrides it), so a second install rebuilds only what changed.
No third-party build tool: Debian 12 has no scikit-build, and none is needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import zipfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _version() -> str:
    # The one place the version is written: project(verinit VERSION x.y.z ...).
    with open(os.path.join(_ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        match = re.search(r"project\(verinit\s+VERSION\s+([0-9.]+)", f.read())
    if not match:
        raise RuntimeError("CMakeLists.txt: project(verinit VERSION ...) not found")
    return match.group(1)


def _tag() -> str:
    if sys.implementation.name != "cpython":
        raise RuntimeError(f"verinit builds for CPython, not {sys.implementation.name}")
    py = f"cp{sys.version_info.major}{sys.version_info.minor}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{py}-{py}-{platform}"


def _metadata(version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        "Name: verinit\n"
        f"Version: {version}\n"
        "Summary: Verified neural-network weight initializers, and a statistical verifier of "
        "weights\n"
        "Requires-Python: >=3.9\n"
        "Requires-Dist: numpy\n"
    )


def _build() -> str:
    build = os.environ.get("VERINIT_WHEEL_BUILD_DIR") or os.path.join(_ROOT, "build",
                                                                      "python-wheel")
    configure = [
        "cmake", "-S", _ROOT, "-B", build,
        "-DCMAKE_BUILD_TYPE=Release",
        "-DVERINIT_BUILD_PYTHON=ON",
        "-DVERINIT_BUILD_TESTS=OFF",
        "-DVERINIT_BUILD_BENCHMARKS=OFF",
        "-DVERINIT_BUILD_CLI=OFF",
        "-DVERINIT_INSTALL=OFF",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    jobs = str(os.cpu_count() or 1)
    for command in (configure,
                    ["cmake", "--build", build, "--target", "verinit_python", "-j", jobs]):
        print("verinit build_backend:", " ".join(command), file=sys.stderr, flush=True)
        subprocess.run(command, check=True, stdout=sys.stderr)
    return os.path.join(build, "python", "verinit")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


# ---- PEP 517 hooks ---------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    info = f"verinit-{version}.dist-info"
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata(version))
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    package = _build()
    tag = _tag()
    name = f"verinit-{version}-{tag}.whl"
    info = f"verinit-{version}.dist-info"
    # The package's sources (those verify/python/verinit holds) and this interpreter's
    # extension, nothing else the build folder may have collected.
    top = os.path.join(_ROOT, "verify", "python", "verinit")
    sources = sorted(os.path.relpath(os.path.join(d, e), top).replace(os.sep, "/")
                     for d, _, entries in os.walk(top) if "__pycache__" not in d
                     for e in entries if e.endswith((".py", ".pyi")) or e == "py.typed")
    extension = "_verinit" + sysconfig.get_config_var("EXT_SUFFIX")
    files = []
    for entry in sources + [extension]:
        with open(os.path.join(package, entry), "rb") as f:
            files.append((f"verinit/{entry}", f.read()))
    wheel = ("Wheel-Version: 1.0\nGenerator: verinit build_backend\nRoot-Is-Purelib: false\n"
             f"Tag: {tag}\n")
    files += [
        (f"{info}/METADATA", _metadata(version).encode()),
        (f"{info}/WHEEL", wheel.encode()),
        (f"{info}/top_level.txt", b"verinit\n"),
    ]
    record = [_record_line(n, d) for n, d in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    os.makedirs(wheel_directory, exist_ok=True)
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         compression=zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            z.writestr(n, d)
    return name


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_sdist(sdist_directory, config_settings=None):
    """The source tree as git tracks it (tests and data included), as verinit-VERSION.tar.gz."""
    import tarfile

    version = _version()
    name = f"verinit-{version}"
    listed = subprocess.run(["git", "-C", _ROOT, "ls-files", "-z"], check=True,
                            capture_output=True).stdout.decode().split("\0")
    os.makedirs(sdist_directory, exist_ok=True)
    with tarfile.open(os.path.join(sdist_directory, name + ".tar.gz"), "w:gz") as tar:
        for path in filter(None, listed):
            tar.add(os.path.join(_ROOT, path), arcname=f"{name}/{path}", recursive=False)
        info = tarfile.TarInfo(f"{name}/PKG-INFO")
        data = _metadata(version).encode()
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    return name + ".tar.gz"

