#!/bin/sh
# Run the test suite once per supported Python: 3.11 (required) and each of 3.12 and
# 3.13 found on this machine, each in its own virtual environment.
#
#   sh scripts/test-all-pythons.sh [pytest arguments...]
#
# PYTHON      the interpreter of the main .venv (default python3): it serves its version
# PYTHONS     the versions to run (default "3.11 3.12 3.13")
# An interpreter for version X.Y is the main one if it is X.Y, else `pythonX.Y` on PATH,
# else the newest pyenv-installed X.Y. Versions other than 3.11 that are not found are
# skipped and named in the summary; a missing 3.11 fails the run. Each version gets
# .venv (the main one) or .venv-X.Y, created or refreshed when pyproject.toml changes.
set -u
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PYTHONS=${PYTHONS:-3.11 3.12 3.13}
REQUIRED=3.11

# The X.Y of an interpreter, or nothing if it does not run.
version_of() {
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

# An interpreter for version $1, or nothing.
find_python() {
    if [ "$(version_of "$PYTHON")" = "$1" ]; then
        echo "$PYTHON"
        return
    fi
    # pyenv's shims are on PATH for every version but only run the selected ones:
    # version_of checks that the candidate really runs.
    if [ "$(version_of "python$1")" = "$1" ]; then
        echo "python$1"
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        for dir in $(ls -d "$(pyenv root)/versions/$1".* 2>/dev/null | sort -V -r); do
            if [ "$(version_of "$dir/bin/python$1")" = "$1" ]; then
                echo "$dir/bin/python$1"
                return
            fi
        done
    fi
}

ran=""
failed=""
skipped=""
for version in $PYTHONS; do
    python=$(find_python "$version")
    if [ -z "$python" ]; then
        if [ "$version" = "$REQUIRED" ]; then
            echo "== Python $version: not found; it is required (make test PYTHON=/path/to/python$version)" >&2
            failed="$failed $version(missing)"
        else
            echo "== Python $version: not found, skipped"
            skipped="$skipped $version"
        fi
        continue
    fi
    if [ "$python" = "$PYTHON" ]; then venv=.venv; else venv=.venv-$version; fi
    stamp=$venv/.installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup-venv.sh -nt "$stamp" ]; then
        echo "== Python $version: setting up $venv from $python"
        if ! PYTHON=$python VENV=$venv sh scripts/setup-venv.sh; then
            failed="$failed $version(setup)"
            continue
        fi
        touch "$stamp"
    fi
    echo "== Python $version: $("$venv/bin/python" --version 2>&1) in $venv: pytest${*:+ $*}"
    start=$(date +%s)
    if "$venv/bin/python" -m pytest "$@"; then
        ran="$ran $version($(($(date +%s) - start))s)"
    else
        failed="$failed $version"
    fi
done

echo "== Pythons: passed:${ran:- none}; failed:${failed:- none}; skipped (not found):${skipped:- none}"
[ -z "$failed" ] && [ -n "$ran" ]
