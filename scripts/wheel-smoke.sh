#!/usr/bin/env bash
# Build the wheel, install it into a fresh venv, and run one task through the
# loop from that install only: the source tree is never on the import path
# (we run from a temporary folder, with PYTHONPATH unset). This catches a wheel
# that lacks a module, a hook file or its man pages.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/git-orch-wheel-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH
python="${PYTHON:-python3}"

echo "== build the wheel (from a copy: setuptools writes build/ next to the sources)"
mkdir "$work/src"
(cd "$src" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | xargs -0 cp --parents -t "$work/src")
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/src" 2>"$work/build.log" \
    || { cat "$work/build.log"; exit 1; }
if grep -i "license" "$work/build.log"; then
    echo "wheel-smoke: setuptools warns about the license metadata" >&2
    exit 1
fi
wheel="$(ls "$work"/dist/git_orch-*.whl)"
echo "built $(basename "$wheel")"

echo "== install it into a fresh venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel" 2>"$work/install.log" \
    || { cat "$work/install.log"; exit 1; }
export PATH="$work/venv/bin:$PATH"

# A hermetic git: no user or system config, a fixed identity.
export HOME="$work/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$work/home/.gitconfig"
export GIT_AUTHOR_NAME="Smoke Test" GIT_AUTHOR_EMAIL="smoke@example.com"
export GIT_COMMITTER_NAME="Smoke Test" GIT_COMMITTER_EMAIL="smoke@example.com"
mkdir -p "$HOME"
printf '[init]\n\tdefaultBranch = main\n' >"$GIT_CONFIG_GLOBAL"

cd "$work"
run() { printf '$'; printf ' %q' "$@"; echo; "$@"; }
echo "== the loop, from the installed wheel only"
run git-orch --version
"$work/venv/bin/python" - <<'PY'
import git_orch, sys
where = git_orch.__file__
print(f"git_orch imported from {where}")
sys.exit(0 if "/venv/" in where else 1)
PY
git init -q -b main repo
cd repo
echo "app" >app.txt
git add app.txt && git commit -q -m "initial"
git init -q --bare ../origin.git && git remote add origin ../origin.git
git push -q origin main
run git orch init
git add orch.toml && git commit -q -m "git-orch policy"
run git orch start smoke --title "Smoke test" --allow 'src/**'
cd ../repo.orch/smoke
mkdir -p src && echo "print('smoke')" >src/smoke.py
git add src/smoke.py
git commit -q -m "Add smoke" -m "Orch-Evidence: local: python3 src/smoke.py prints smoke"
run git orch handoff --summary "smoke added"
cd ../../repo
run git orch review smoke
run git orch accept smoke
run git orch land smoke --push
test "$(git rev-parse main)" = "$(git --git-dir=../origin.git rev-parse main)"
run git orch status
for page in git-orch.1 git-orch-land.1; do
    test -f "$work/venv/share/man/man1/$page" || { echo "wheel-smoke: no man page $page" >&2; exit 1; }
done
if command -v man >/dev/null 2>&1; then
    # git turns `git orch --help` into `git help orch`: man finds the page from PATH.
    for ask in "git orch --help" "git help orch"; do
        env MANPAGER=cat PAGER=cat $ask </dev/null 2>&1 | grep -q "^SYNOPSIS" \
            || { echo "wheel-smoke: $ask opens no man page" >&2; exit 1; }
        echo "\$ $ask: opens git-orch(1)"
    done
fi
echo "wheel smoke passed"
