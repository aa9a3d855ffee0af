"""The pytest suite of the Python package, run by CTest against the package assembled in the
build tree (PYTHONPATH) with VERINIT_CLI naming the command-line executable; or against an
installed package (pip install .) with neither set, the CLI tests then skipped."""

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("VERINIT_CLI") or shutil.which("verinit")
    if not path:
        pytest.skip("the verinit executable is not known (VERINIT_CLI)")
    return path
