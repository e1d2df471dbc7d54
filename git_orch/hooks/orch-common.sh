# git-orch worker hooks: the part every hook runs, every time. sh parses all of
# this file on each run, so it is short; orch-slow.sh holds the rest and says why.
orch_hook=${0##*/}
orch_hooks_dir=${0%/*}
orch_common_dir=${orch_hooks_dir%/orch/hooks}
orch_tab='	'
orch_nl='
'
unset GIT_LITERAL_PATHSPECS GIT_GLOB_PATHSPECS GIT_NOGLOB_PATHSPECS GIT_ICASE_PATHSPECS

orch_refuse() {
    . "$orch_hooks_dir/orch-slow.sh"
    orch_refuse_now "$@"
}

# The settings, from the cache while every config file is older than it (or
# than a read that found it right), else from git (orch_read_config).
orch_load() {
    if [ -n "${GIT_DIR:-}" ]; then
        orch_gitdir=$GIT_DIR
    elif [ -f .git/HEAD ]; then
        orch_gitdir=$PWD/.git
    else
        . "$orch_hooks_dir/orch-slow.sh"
        orch_find_gitdir
    fi
    orch_cache=$orch_gitdir/orch-hooks.sh
    orch_checked=$orch_gitdir/orch-hooks.checked
    orch_cached=
    if [ -f "$orch_cache" ]; then
        . "$orch_cache"
        orch_each_config orch_older "$orch_cache" && return 0
        orch_confirmed && return 0
        orch_cached=1
    fi
    . "$orch_hooks_dir/orch-slow.sh"
    orch_read_config
}

orch_each_config() {
    for orch_file in "$orch_gitdir/config.worktree" "$orch_common_dir/config" \
        "${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig}" "${XDG_CONFIG_HOME:-$HOME/.config}/git/config" \
        "${GIT_CONFIG_SYSTEM:-/etc/gitconfig}"
    do
        "$@" "$orch_file" || return 1
    done
}

orch_older() {
    [ "$1" -nt "$2" ] || ! [ -e "$2" ]
}

orch_confirmed() {
    [ "$orch_checked" -nt "$orch_cache" ] && orch_each_config orch_older "$orch_checked" ||
        return 1
    orch_mark=
    orch_ok=
    {
        IFS= read -r orch_mark <"$orch_checked"
        IFS= read -r orch_ok <"$orch_gitdir/orch-hooks.confirmed"
    } 2>/dev/null
    [ -n "$orch_mark" ] && [ "$orch_mark" = "$orch_ok" ]
}

# Hand over to the repository's own hook (same arguments, same stdin), or succeed.
orch_chain() {
    orch_repo_hook || exit 0
    exec "$orch_target" "$@"
}

orch_repo_hook() {
    case $orch_repo_hooks in
        '') orch_target=$orch_common_dir/hooks/$orch_hook ;;
        '~/'*) orch_target=$HOME/${orch_repo_hooks#'~/'}/$orch_hook ;;
        *) orch_target=$orch_repo_hooks/$orch_hook ;;
    esac
    [ -f "$orch_target" ] && [ -x "$orch_target" ] && ! [ "$orch_target" -ef "$0" ] && return 0
    orch_target=
    return 1
}
