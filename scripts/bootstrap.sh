#!/usr/bin/env bash
# Create .venv (if needed) and install git-orch with its test tools into it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv >/dev/null 2>&1 || python3 -m venv .venv
if ! .venv/bin/python -c "import git_orch, pygit2, click, tomlkit, unidiff, pathspec, pytest, hypothesis" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet -e '.[test]'
fi
