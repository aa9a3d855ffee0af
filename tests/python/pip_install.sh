#!/usr/bin/env bash
# The README's Python command, checked: a fresh virtual environment (with Debian's numpy, torch
# and pytest from the system site), `pip install --no-build-isolation --no-index` of the source
# tree, then the whole pytest suite against the installed package (no PYTHONPATH).
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
PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$source/tests/python"
