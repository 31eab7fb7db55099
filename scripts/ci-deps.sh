#!/usr/bin/env bash
# What CI needs beyond the README's two commands (`cargo xtask demo` and
# `cargo xtask test` set up their own): the Python packages of the fixture
# check (models/fixtures/requirements.txt), in a virtual environment of their
# own, ${CARGO_TARGET_DIR:-target}/ci-venv. Prints the venv's path last.
#
#   CI_VENV=$(bash scripts/ci-deps.sh | tail -n 1)
#   PATH="$CI_VENV/bin:$PATH" python3 models/fixtures/check_fixtures.py
#
# (The recipe smoke test, models/recipe/smoke.sh, installs its own.)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
case $target in
    /*) ;;
    *) target=$PWD/$target ;;
esac
VENV=$target/ci-venv

if [ ! -x "$VENV/bin/python" ]; then
    echo "ci-deps: making $VENV (python3 -m venv)" >&2
    python3 -m venv "$VENV" >&2 || {
        echo "ci-deps: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    }
fi
echo "ci-deps: installing models/fixtures/requirements.txt into $VENV" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
    -r models/fixtures/requirements.txt >&2
echo "$VENV"
