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

# This worktree's git-orch settings: orch_task (empty outside a worker),
# orch_allow / orch_forbid (patterns, one a line), orch_allow_specs /
# orch_forbid_specs ("<rule number> <git pathspec>" lines) and orch_repo_hooks
# (the repository's own core.hooksPath, empty for <common dir>/hooks); from
# the cache only, orch_allow_sh / orch_forbid_sh ("KIND<TAB>LITERAL<TAB>PATTERN"
# lines, set when every pattern of the list is literal: see gitglob.to_sh_rule).
#
# Fast path: `git orch hooks install` writes them to $GIT_DIR/orch-hooks.sh,
# used while the worktree's config has not changed since, and no shared config
# file changed in a way that matters (see orch_shared_same). Otherwise one git
# call reads them; only per-worktree values count for orch.*, so a value in
# the shared config never turns the main worktree into a worker.
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

orch_load() {
    orch_find_gitdir
    orch_cache=$orch_gitdir/orch-hooks.sh
    if [ -f "$orch_cache" ] && ! [ "$orch_gitdir/config.worktree" -nt "$orch_cache" ]; then
        . "$orch_cache"
        if orch_shared_same "$orch_common_dir/config" "${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig}" \
            "${XDG_CONFIG_HOME:-$HOME/.config}/git/config" "${GIT_CONFIG_SYSTEM:-/etc/gitconfig}"
        then
            return 0
        fi
    fi
    orch_task=
    orch_allow_sh=
    orch_forbid_sh=
    orch_repo_hooks=
    orch_allow=
    orch_forbid=
    orch_allow_specs=
    orch_forbid_specs=
    orch_cfg=$(git config --show-scope --get-regexp \
        '^(orch\.|core\.hookspath$|extensions\.worktreeconfig$)' 2>/dev/null)
    # A clone workspace without extensions.worktreeConfig keeps its worker keys
    # where `git config --worktree` puts them then: its own repository config.
    orch_own=worktree
    orch_ext=
    case $orch_nl$orch_cfg$orch_nl in
        *"${orch_nl}local${orch_tab}orch.role worker$orch_nl"*) orch_own=local ;;
    esac
    while IFS= read -r orch_line; do
        case $orch_line in
            "local${orch_tab}extensions.worktreeconfig"*) orch_ext=x${orch_line#*worktreeconfig} ;;
        esac
    done <<ORCH_EOF
$orch_cfg
ORCH_EOF
    case $orch_ext in
        '' | 'x '[Ff][Aa][Ll][Ss][Ee] | 'x '[Nn][Oo] | 'x '[Oo][Ff][Ff] | 'x 0' | 'x ') ;;
        *) orch_own=worktree ;;
    esac
    while IFS= read -r orch_line; do
        orch_scope=${orch_line%%"$orch_tab"*}
        orch_rest=${orch_line#*"$orch_tab"}
        orch_key=${orch_rest%% *}
        orch_value=${orch_rest#"$orch_key"}
        orch_value=${orch_value# }
        if [ "$orch_key" = core.hookspath ]; then
            [ "$orch_scope" = "$orch_own" ] || orch_repo_hooks=$orch_value
            continue
        fi
        [ "$orch_scope" = "$orch_own" ] || continue
        case $orch_key in
            orch.task) orch_task=$orch_value ;;
            orch.allow) orch_allow=$orch_allow$orch_value$orch_nl ;;
            orch.forbid) orch_forbid=$orch_forbid$orch_value$orch_nl ;;
            orch.allowpathspec) orch_allow_specs=$orch_allow_specs$orch_value$orch_nl ;;
            orch.forbidpathspec) orch_forbid_specs=$orch_forbid_specs$orch_value$orch_nl ;;
        esac
    done <<ORCH_EOF
$orch_cfg
ORCH_EOF
}

# True when the shared config files (arguments) still give what the sourced
# cache holds. From them the hooks read only core.hooksPath (orch.* counts only
# per worktree), so a file changed since the cache (`git remote add`, a new
# branch) is fine when the cache says no shared file set core.hooksPath and no
# line of the changed file names hooksPath or an include: then none sets it
# now either. Pure sh, no process.
orch_shared_same() {
    for orch_file in "$@"; do
        [ "$orch_file" -nt "$orch_cache" ] || continue
        [ -z "$orch_repo_hooks" ] || return 1
        while IFS= read -r orch_line || [ -n "$orch_line" ]; do
            case $orch_line in
                *[Hh][Oo][Oo][Kk][Ss][Pp][Aa][Tt][Hh]* | *[Ii][Nn][Cc][Ll][Uu][Dd][Ee]*) return 1 ;;
            esac
        done <"$orch_file"
    done
    return 0
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
