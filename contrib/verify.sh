#!/bin/sh
# Run `git orch verify` in CI: fetch the task contracts (refs/orch/*) from the
# remote, then check every commit in the range. Used by the GitHub Action and
# the GitLab job in contrib/; runnable by hand too:
#   RANGE=origin/main..HEAD sh contrib/verify.sh
# Environment: RANGE (required), REMOTE (default origin), FORMAT (text, json or
# github; default text), GIT_ORCH (the command, default git-orch),
# REQUIRE_LANDED (1, the default: every task commit must have entered through
# `git orch land`, as on a push to main; 0 for work not landed yet, e.g. a
# pull request's own commits).
#
# Binding only where the target branch is protected and requires this check:
# otherwise it reports work that bypassed git-orch after it arrived.
set -eu
: "${RANGE:?set RANGE to the commits to check, e.g. origin/main..HEAD}"
REMOTE="${REMOTE:-origin}"
FORMAT="${FORMAT:-text}"
GIT_ORCH="${GIT_ORCH:-git-orch}"
REQUIRE_LANDED="${REQUIRE_LANDED:-1}"
if ! git fetch --quiet --no-tags "$REMOTE" '+refs/orch/*:refs/orch/*'; then
    echo "git-orch verify: could not fetch refs/orch/* from $REMOTE" >&2
    exit 1
fi
if [ "$REQUIRE_LANDED" = 1 ]; then
    exec "$GIT_ORCH" verify --require-landed --format "$FORMAT" "$RANGE"
fi
exec "$GIT_ORCH" verify --format "$FORMAT" "$RANGE"
