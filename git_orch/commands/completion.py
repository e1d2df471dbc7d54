"""`git orch completion bash|zsh`: shell completion that hooks into git's own.

Git's bash completion completes `git orch <TAB>` by calling a function named
`_git_orch` when one exists (git-lfs and others hook in the same way), and
bash-completion loads it on demand from <prefix>/share/bash-completion/
completions/git-orch, which the wheel ships. zsh's git completion calls
`_git-orch`. Both functions ask git-orch itself for the candidates through
click's completion protocol (_GIT_ORCH_COMPLETE), so they follow the commands.
"""

from __future__ import annotations

import click

BASH = r"""# git orch completion for bash.  Load with:  eval "$(git orch completion bash)"
# git's completion calls _git_orch for `git orch <TAB>`; `git-orch <TAB>` works too.
_git_orch ()
{
	local i start=${__git_cmd_idx:-} kind value
	if [[ -z $start ]]; then
		for ((i = 1; i < ${#words[@]}; i++)); do
			[[ ${words[i]} == orch ]] && { start=$i; break; }
		done
	fi
	[[ -z $start ]] && return 0
	local -a dir=()  # `git -C DIR orch ...`: complete in DIR
	for ((i = 1; i + 1 < start; i++)); do
		[[ ${words[i]} == -C ]] && dir=(-C "${words[i+1]}")
	done
	local line="git-orch ${dir[*]} ${words[*]:start+1}"
	COMPREPLY=()
	while IFS=, read -r kind value; do
		case $kind in
		plain) COMPREPLY+=("$value") ;;
		dir) while IFS= read -r value; do COMPREPLY+=("$value"); done \
			< <(compgen -d -- "$cur") ;;
		file) while IFS= read -r value; do COMPREPLY+=("$value"); done \
			< <(compgen -f -- "$cur") ;;
		esac
	done < <(COMP_WORDS="$line" COMP_CWORD=$((cword - start + ${#dir[@]})) \
		_GIT_ORCH_COMPLETE=bash_complete git-orch 2>/dev/null)
}

_git_orch_command ()
{
	local cur=${COMP_WORDS[COMP_CWORD]} cword=$((COMP_CWORD + 1))
	local -a words=(git orch "${COMP_WORDS[@]:1}")
	local __git_cmd_idx=1
	_git_orch
}
complete -o default -F _git_orch_command git-orch
"""

ZSH = r"""#compdef git-orch
# git orch completion for zsh.  Load with:  eval "$(git orch completion zsh)"
# (after compinit). zsh's git completion calls _git-orch for `git orch <TAB>`.
_git-orch () {
	local -a words_ lines completions
	local kind value help i
	# words[1] is `orch` (called by git's completion) or `git-orch`.
	words_=(git-orch "${(@)words[2,-1]}")
	lines=("${(@f)$(COMP_WORDS="${words_[*]}" COMP_CWORD=$(( CURRENT - 1 )) \
		_GIT_ORCH_COMPLETE=zsh_complete git-orch 2>/dev/null)}")
	for ((i = 1; i + 2 <= ${#lines}; i += 3)); do
		kind=${lines[i]} value=${lines[i+1]} help=${lines[i+2]}
		case $kind in
		plain) completions+=("${value//:/\\:}:${help}") ;;
		dir) _path_files -/ ;;
		file) _path_files -f ;;
		esac
	done
	(( ${#completions} )) && _describe -t commands 'git orch' completions
	return 0
}
compdef _git-orch git-orch
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH}


@click.command()
@click.argument("shell", type=click.Choice(sorted(SCRIPTS)))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash or zsh).

    In bash, git's own completion (load it first) then completes `git orch`
    subcommands and options; an installed wheel also ships the bash script
    where bash-completion finds it by itself.

    \b
    Example:
      eval "$(git orch completion bash)"    # in ~/.bashrc
      eval "$(git orch completion zsh)"     # in ~/.zshrc, after compinit
    """
    click.echo(SCRIPTS[shell], nl=False)
