# git-orch worker hooks: shared functions, sourced by every hook in this folder.
#
# POSIX sh on purpose: these run on every commit, so they must not start Python.
# The happy path starts no git process except where a check needs one
# (pre-commit: diff-index). The checks apply only in a worker worktree (`orch.task` in its per-worktree config); elsewhere the
# hooks only run the repository's own hook of the same name.

orch_hook=${0##*/}
orch_hooks_dir=${0%/*}
orch_common_dir=${orch_hooks_dir%/orch/hooks}
orch_tab='	'
orch_nl='
'

# Pathspec behaviour must not be changed from outside: the checks rely on :(glob).
unset GIT_LITERAL_PATHSPECS GIT_GLOB_PATHSPECS GIT_NOGLOB_PATHSPECS GIT_ICASE_PATHSPECS

# Print each argument as one `git-orch:` line on stderr and fail the hook.
# In a worker, the first line also goes to orch-refusals in the worker's own
# git dir, where the lead collects it as a misalignment (never fatal).
orch_refuse() {
    if [ -n "${orch_task:-}" ] && [ -n "${orch_gitdir:-}" ]; then
        printf '%s\t%s\n' "$orch_hook" "$1" >>"$orch_gitdir/orch-refusals" 2>/dev/null || :
    fi
    for orch_line in "$@"; do
        printf 'git-orch: %s\n' "$orch_line" >&2
    done
    exit 1
}

# This worktree's git dir, without a process when git left it to be found: git
# runs a hook from the top of the working tree, where `.git` is the git dir or
# a `gitdir: PATH` file (relative to that top). Anything else asks git.
orch_find_gitdir() {
    if [ -n "${GIT_DIR:-}" ]; then
        orch_gitdir=$GIT_DIR
        return 0
    fi
    if [ -d .git ] && [ -f .git/HEAD ]; then
        orch_gitdir=$PWD/.git
        return 0
    fi
    orch_line=
    if [ -f .git ]; then
        IFS= read -r orch_line <.git || :
    fi
    case $orch_line in
        'gitdir: /'*) orch_gitdir=${orch_line#gitdir: } ;;
        'gitdir: '?*) orch_gitdir=$PWD/${orch_line#gitdir: } ;;
        *) orch_gitdir=$(git rev-parse --git-dir) ;;
    esac
    [ -f "$orch_gitdir/HEAD" ] || orch_gitdir=$(git rev-parse --git-dir)
}

# This worktree's git-orch settings: orch_task (empty outside a worker),
# orch_allow / orch_forbid (patterns, one a line), orch_allow_specs /
# orch_forbid_specs ("<rule number> <git pathspec>" lines) and orch_repo_hooks
# (the repository's own core.hooksPath, empty for <common dir>/hooks); from
# the cache only, orch_allow_sh / orch_forbid_sh ("KIND<TAB>LITERAL<TAB>PATTERN"
# lines, set when every pattern of the list is literal: see gitglob.to_sh_rule).
#
# Fast path, no process: `git orch hooks install` writes them to
# $GIT_DIR/orch-hooks.sh, used while every config file git reads is older than
# it, or older than the last time a hook read the config and found the cache
# right (orch_confirmed). Otherwise orch-config.sh reads them with one git call.
orch_load() {
    orch_find_gitdir
    orch_cache=$orch_gitdir/orch-hooks.sh
    orch_checked=$orch_gitdir/orch-hooks.checked
    orch_cached=
    if [ -f "$orch_cache" ]; then
        . "$orch_cache"
        orch_configs_older "$orch_cache" && return 0
        orch_confirmed && return 0
        orch_cached=1
    fi
    . "$orch_hooks_dir/orch-config.sh"
    orch_read_config
}

# Run `$@ FILE` for every config file git would read here; false as soon as one is.
orch_each_config() {
    for orch_file in "$orch_gitdir/config.worktree" "$orch_common_dir/config" \
        "${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig}" "${XDG_CONFIG_HOME:-$HOME/.config}/git/config" \
        "${GIT_CONFIG_SYSTEM:-/etc/gitconfig}"
    do
        "$@" "$orch_file" || return 1
    done
}

# True when file $1 is strictly newer than file $2, or $2 does not exist.
# Strictly: a file changed within the same timestamp tick as $1 may have changed
# after it (git's racy-file rule), so it counts as changed.
orch_older() {
    [ "$1" -nt "$2" ] || ! [ -e "$2" ]
}

# True when every config file git would read here is older than file $1.
orch_configs_older() {
    orch_each_config orch_older "$1"
}

# True when a hook read the config after the last change and found the cache
# right: orch-config.sh writes a mark (orch-hooks.checked) before it reads, and
# the same mark to orch-hooks.confirmed once the config gave the cached values.
orch_confirmed() {
    [ "$orch_checked" -nt "$orch_cache" ] && orch_configs_older "$orch_checked" || return 1
    orch_mark=
    orch_ok=
    {
        IFS= read -r orch_mark <"$orch_checked"
        IFS= read -r orch_ok <"$orch_gitdir/orch-hooks.confirmed"
    } 2>/dev/null
    [ -n "$orch_mark" ] && [ "$orch_mark" = "$orch_ok" ]
}

# orch_sh_match KIND LITERAL PATH: a plain-path rule (see gitglob.to_sh_rule).
orch_sh_match() {
    case $1 in
        A) case $3 in "$2" | "$2"/*) return 0 ;; esac ;;
        AD) case $3 in "$2"/*) return 0 ;; esac ;;
        U) case $3 in "$2" | "$2"/* | */"$2" | */"$2"/*) return 0 ;; esac ;;
        UD) case $3 in "$2"/* | */"$2"/*) return 0 ;; esac ;;
    esac
    return 1
}

# The repository's own hook of this name (core.hooksPath from the shared,
# global or system config, else <common dir>/hooks), or nothing.
orch_repo_hook() {
    case $orch_repo_hooks in
        '') orch_dir=$orch_common_dir/hooks ;;
        '~/'*) orch_dir=$HOME/${orch_repo_hooks#'~/'} ;;
        *) orch_dir=$orch_repo_hooks ;;
    esac
    orch_target=$orch_dir/$orch_hook
    if [ -f "$orch_target" ] && [ -x "$orch_target" ] && ! [ "$orch_target" -ef "$0" ]; then
        return 0
    fi
    orch_target=
    return 1
}

# Hand over to the repository's own hook (same arguments, same stdin), or succeed.
orch_chain() {
    orch_repo_hook || exit 0
    exec "$orch_target" "$@"
}
