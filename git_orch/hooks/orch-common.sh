# git-orch worker hooks: what every hook runs, every time. POSIX sh, no Python.
# sh parses all of this on each run of each hook (about 100 instructions a
# byte), so it holds nothing else; orch-slow.sh has the rest and the reasons.
orch_hook=${0##*/}
orch_hooks_dir=${0%/*}
orch_common_dir=${orch_hooks_dir%/orch/hooks}
orch_nl='
'

orch_refuse() {
    . "$orch_hooks_dir/orch-slow.sh"
    orch_refuse_now "$@"
}

# The settings, from the cache `git orch hooks install` writes while every config
# file is older than it, or than the mark of a read that found it right.
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
        orch_older "$orch_cache" && return 0
        orch_cached=1
        if [ "$orch_checked" -nt "$orch_cache" ] && orch_older "$orch_checked"; then
            orch_mark=
            orch_ok=
            {
                IFS= read -r orch_mark <"$orch_checked"
                IFS= read -r orch_ok <"$orch_gitdir/orch-hooks.confirmed"
            } 2>/dev/null
            [ -z "$orch_mark" ] || [ "$orch_mark" != "$orch_ok" ] || return 0
        fi
    fi
    . "$orch_hooks_dir/orch-slow.sh"
    orch_read_config
}

# True when file $1 is strictly newer than every config file git reads here
# (each name + $2), or that file does not exist; with $1 empty: when none exists.
orch_older() {
    for orch_file in "$orch_gitdir/config.worktree" "$orch_common_dir/config" \
        "${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig}" "${XDG_CONFIG_HOME:-$HOME/.config}/git/config" \
        "${GIT_CONFIG_SYSTEM:-/etc/gitconfig}"
    do
        [ "$1" -nt "$orch_file${2:-}" ] || ! [ -e "$orch_file${2:-}" ] || return 1
    done
}

# The repository's own hook of this name (core.hooksPath from the shared,
# global or system config, else <common dir>/hooks), if there is one.
orch_repo_hook() {
    orch_target=${orch_repo_hooks:-$orch_common_dir/hooks}
    case $orch_target in '~/'*) orch_target=$HOME/${orch_target#'~/'} ;; esac
    orch_target=$orch_target/$orch_hook
    [ -f "$orch_target" ] && [ -x "$orch_target" ] && ! [ "$orch_target" -ef "$0" ]
}

# Hand over to the repository's own hook (same arguments, same stdin), or succeed.
orch_chain() {
    orch_repo_hook || exit 0
    exec "$orch_target" "$@"
}
