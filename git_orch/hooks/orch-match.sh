# git-orch worker hooks: pre-commit's matching of staged paths in sh, with no
# process, when every Orch-Allow / Orch-Forbid pattern is a plain path.

orch_tab='	'
orch_lines=
orch_seen=
orch_count=0

# True when the cache holds sh rules for every rule list that has patterns.
orch_sh_rules() {
    { [ -n "$orch_forbid_sh" ] || [ -z "$orch_forbid_specs" ]; } &&
        { [ -n "$orch_allow_sh" ] || [ -z "$orch_allow_specs" ]; }
}

# Record one finding for a path (once per path).
orch_finding() {
    case $orch_nl$orch_seen$orch_nl in *"$orch_nl$1$orch_nl"*) return 0 ;; esac
    orch_seen=$orch_seen$orch_nl$1
    orch_lines="$orch_lines$1: $2$orch_nl"
    orch_count=$((orch_count + 1))
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

# The first rule of a KIND<TAB>LITERAL<TAB>PATTERN list ($1) matching path $2:
# its pattern in orch_rule. Called with IFS a newline and globbing off: lines
# are split by IFS and parameter expansion, not by `read`, which costs sh a
# system call per byte.
orch_sh_first() {
    for orch_r in $1; do
        orch_k=${orch_r%%"$orch_tab"*}
        orch_rest=${orch_r#*"$orch_tab"}
        if orch_sh_match "$orch_k" "${orch_rest%%"$orch_tab"*}" "$2"; then
            orch_rule=${orch_rest#*"$orch_tab"}
            return 0
        fi
    done
    return 1
}

orch_allowed=
orch_allowed_text() {
    IFS=$orch_nl
    for orch_a in $orch_allow; do
        orch_allowed=${orch_allowed:+$orch_allowed, }$orch_a
    done
    unset IFS
}

# A finding for each of the paths ($1, one a line) the sh rules refuse.
orch_check_sh() {
    IFS=$orch_nl
    for orch_p in $1; do
        if [ -n "$orch_forbid_sh" ] && orch_sh_first "$orch_forbid_sh" "$orch_p"; then
            orch_finding "$orch_p" "forbidden by Orch-Forbid: $orch_rule"
        elif [ -n "$orch_allow_sh" ] && ! orch_sh_first "$orch_allow_sh" "$orch_p"; then
            [ -n "$orch_allowed" ] || orch_allowed_text
            IFS=$orch_nl
            orch_finding "$orch_p" "outside Orch-Allow ($orch_allowed)"
        fi
    done
    unset IFS
}
