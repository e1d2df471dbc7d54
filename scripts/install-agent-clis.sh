#!/usr/bin/env bash
# Install the agent CLIs the end-to-end tests drive (tests/e2e), pinned, into
# .agent-clis/ (gitignored). If npm fails, the reason is kept in
# .agent-clis/install-failed and those tests skip quoting it.
set -uo pipefail
cd "$(dirname "$0")/.."
CODEX_VERSION=0.171.0
CLAUDE_VERSION=2.1.197
mkdir -p .agent-clis
rm -f .agent-clis/install-failed
if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found" > .agent-clis/install-failed
elif ! out=$(npm install --no-audit --no-fund --prefix .agent-clis \
        "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION" 2>&1); then
    printf 'npm install failed: %s\n' "$(printf '%s' "$out" | tail -n 5)" > .agent-clis/install-failed
fi
if [ -e .agent-clis/install-failed ]; then
    echo "warning: agent CLIs not installed ($(cat .agent-clis/install-failed)); tests/e2e will skip"
fi
exit 0
