#!/usr/bin/env bash
# Set up (first run) and run the git-orch demo loop in a throw-away repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m git_orch.demo "$@"
