#!/bin/sh
# Create the project's virtual environment with an interpreter that satisfies
# requires-python (3.11 or newer), so pip never refuses the project half way.
#
# Usage: sh scripts/venv.sh VENV CANDIDATE...   (what `make install` runs)
#
# Candidates are tried in order and the first that runs and is new enough wins.
# Each one is run rather than looked up on PATH: a pyenv shim for a version that is
# not active exists on PATH but fails when run. A venv already on a suitable
# Python is kept (remove it to switch versions); one on an older or missing Python
# is replaced. A venv that fails half way is removed, so the next run starts clean.
set -u

venv=$1
shift

# The floor is read from requires-python in pyproject.toml, so raising it there is
# enough; 3.11 is what the generated code needs when the line is missing.
minimum=$(sed -n 's/^requires-python = ">=\([0-9][0-9]*\.[0-9][0-9]*\)".*/\1/p' pyproject.toml 2>/dev/null)
minimum=${minimum:-3.11}
is_supported="import sys; sys.exit(0 if sys.version_info >= (${minimum%.*}, ${minimum#*.}) else 1)"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$is_supported" >/dev/null 2>&1; then
    exit 0
fi

chosen=""
for candidate in "$@"; do
    if "$candidate" -c "$is_supported" >/dev/null 2>&1; then
        chosen=$candidate
        break
    fi
done

if [ -z "$chosen" ]; then
    echo "ERROR: make install needs Python $minimum or newer and found none (tried: $*); set PYTHON3=/path/to/python3" >&2
    exit 1
fi

if [ -e "$venv" ]; then
    echo "Replacing $venv: its Python is missing or older than $minimum"
    rm -rf "$venv"
fi

version=$("$chosen" -c 'import platform; print(platform.python_version())')
echo "Creating $venv with $chosen (Python $version)"
if ! "$chosen" -m venv "$venv"; then
    rm -rf "$venv"
    echo "ERROR: '$chosen -m venv' failed, $venv removed (Debian/Ubuntu: apt install python3-venv)" >&2
    exit 1
fi
