#!/usr/bin/env bash
# The README's Python command, checked: a fresh virtual environment (with Debian's numpy, torch
# and pytest from the system site), `pip install --no-build-isolation --no-index` of the source
# tree, then the pytest suite against the installed package (no PYTHONPATH), but for the two
# files that test models and pages, not the package's installation: test_mutants.py (31 model
# families, minutes) and test_report_layout.py (headless Chromium) run against the build tree.
# Usage: pip_install.sh PYTHON SOURCE_DIR WORK_DIR
set -euo pipefail
python=$1 source=$2 work=$3
rm -rf "$work/venv"
mkdir -p "$work"
"$python" -m venv --system-site-packages "$work/venv"
VERINIT_WHEEL_BUILD_DIR="$work/wheel-build" "$work/venv/bin/pip" install --no-build-isolation \
  --no-index --quiet "$source"
cd "$work"
unset PYTHONPATH
"$work/venv/bin/python" -c 'import verinit, sys; assert verinit.__file__.startswith(sys.prefix), verinit.__file__; print("verinit", verinit.__version__, "from", verinit.__file__)'
PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
  --ignore="$source/tests/python/test_mutants.py" \
  --ignore="$source/tests/python/test_report_layout.py" "$source/tests/python"
