# git-orch worker hooks: the slow path of orch_load (orch-common.sh), sourced
# only when a config file changed since the cache was written or last confirmed,
# or there is no cache. Kept apart so the common path does not parse it.

# Read the settings with one git call; only per-worktree values count for
# orch.*, so a value in the shared config never turns the main worktree into a
# worker. When they equal the cached ones ($orch_cached: the cache was sourced),
# keep the cache's sh rules and confirm it, so the next hooks take the fast path
# again until a config file changes once more.
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
    orch_each_config orch_unlocked || return 0
    orch_mark=$$.$PPID
}

orch_unlocked() {
    ! [ -e "$1.lock" ]
}
