#!/usr/bin/env bash
# Set up (first run) and run the git-orch demo loop in a throw-away repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/git-orch demo "$@"   # --help prints the help, --dir DIR, --keep
