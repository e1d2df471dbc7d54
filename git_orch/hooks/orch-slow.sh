# git-orch worker hooks: the rarely needed parts of orch-common.sh, sourced only
# when needed (a refusal; a config file changed since the cache was written or
# last confirmed, or no cache; a worktree whose git dir git did not name), so
# the usual commit never parses them.
#
# The fast path (orch-common.sh orch_load): `git orch hooks install` writes the
# settings to $GIT_DIR/orch-hooks.sh; a hook sources it, without a process,
# while every config file git reads is strictly older than it (orch_older:
# strictly, because a file changed within the same timestamp tick may have
# changed after it, git's racy-file rule). After a config change, the first
# hook reads the config with git (orch_read_config); when that gives the cached
# values, it confirms the cache (orch_begin_check), and the next hooks take the
# fast path again while every config file is older than that read's mark
# (the same mark in orch-hooks.checked and orch-hooks.confirmed). A config
# change the hooks do not care about (a remote, a user name in a clone's own
# config) costs one git call, not one per hook.

orch_tab='	'

# orch_refuse: in a worker, the first line also goes to orch-refusals in the
# worker's own git dir, where the lead collects it as a misalignment (never fatal).
orch_refuse_now() {
    if [ -n "${orch_task:-}" ] && [ -n "${orch_gitdir:-}" ]; then
        printf '%s\t%s\n' "$orch_hook" "$1" >>"$orch_gitdir/orch-refusals" 2>/dev/null || :
    fi
    for orch_line in "$@"; do
        printf 'git-orch: %s\n' "$orch_line" >&2
    done
    exit 1
}

# This worktree's git dir when git did not name it (GIT_DIR) and `.git` is not
# it: git runs a hook from the top of the working tree, where `.git` may be a
# `gitdir: PATH` file (relative to that top). Anything else asks git.
orch_find_gitdir() {
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
# Read with one git call; only per-worktree values count for orch.*, so a value
# in the shared config never turns the main worktree into a worker. When they
# equal the cached ones ($orch_cached: the cache was sourced), keep the cache's
# sh rules and confirm it, so the next hooks take the fast path again until a
# config file changes once more.
orch_read_config() {
    orch_begin_check
    orch_c_task=${orch_task:-}
    orch_c_allow=${orch_allow:-}
    orch_c_forbid=${orch_forbid:-}
    orch_c_allow_specs=${orch_allow_specs:-}
    orch_c_forbid_specs=${orch_forbid_specs:-}
    orch_c_repo_hooks=${orch_repo_hooks:-}
    orch_task=
    orch_repo_hooks=
    orch_allow=
    orch_forbid=
    orch_allow_specs=
    orch_forbid_specs=
    orch_cfg=$(git config --show-scope --get-regexp \
        '^(orch\.|core\.hookspath$|extensions\.worktreeconfig$|include\.|includeif\.)' 2>/dev/null)
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
        case $orch_key in
            # A change in an included file leaves the including file's time alone.
            include.* | includeif.*) orch_mark= ;;
        esac
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
    if [ -n "$orch_cached" ] && [ "$orch_task" = "$orch_c_task" ] &&
        [ "$orch_allow" = "$orch_c_allow" ] && [ "$orch_forbid" = "$orch_c_forbid" ] &&
        [ "$orch_allow_specs" = "$orch_c_allow_specs" ] &&
        [ "$orch_forbid_specs" = "$orch_c_forbid_specs" ] &&
        [ "$orch_repo_hooks" = "$orch_c_repo_hooks" ]
    then
        [ -z "$orch_mark" ] ||
            printf '%s\n' "$orch_mark" >"$orch_gitdir/orch-hooks.confirmed" 2>/dev/null || :
    else
        orch_allow_sh=
        orch_forbid_sh=
    fi
}

# Write the mark (orch_mark, empty when it cannot count) before the config is
# read: a config file written after this is not older than the mark, so the
# confirmation never covers a change the read did not see. The confirmation is
# emptied first, so a mark left by an earlier process of the same id never
# matches it. A config file whose lock file exists may be renamed over with an
# older time (git writes the lock, then renames it), so it leaves no mark.
orch_begin_check() {
    orch_mark=
    [ -n "$orch_cached" ] || return 0
    { : >"$orch_gitdir/orch-hooks.confirmed" &&
        printf '%s\n' "$$.$PPID" >"$orch_checked"; } 2>/dev/null || return 0
    orch_older '' .lock || return 0
    orch_mark=$$.$PPID
}
