#!/bin/sh
# Run `git orch eval` in CI: fetch the stored eval fixtures (refs/orch/fixtures/*)
# from the remote, then replay every one against the orch.toml and the rules of
# the checked-out commit. Fails when a failure that was once caught (an
# overclaim, a change outside the contract, stale docs, ...) no longer is.
#   sh contrib/eval.sh
# Store fixtures with `git orch fixture add ID --note ...` and push them:
#   git push origin 'refs/orch/fixtures/*'
# Environment: REMOTE (default origin), GIT_ORCH (the command, default git-orch).
#
# Example GitHub Actions step (after actions/checkout with fetch-depth: 0 and
# `pip install git-orch`):
#   - run: sh contrib/eval.sh
set -eu
REMOTE="${REMOTE:-origin}"
GIT_ORCH="${GIT_ORCH:-git-orch}"
if ! git fetch --quiet --no-tags "$REMOTE" '+refs/orch/fixtures/*:refs/orch/fixtures/*'; then
    echo "git-orch eval: could not fetch refs/orch/fixtures/* from $REMOTE" >&2
    exit 1
fi
exec "$GIT_ORCH" eval
