"""parse_trailers against `git interpret-trailers --parse`, the reference."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from git_orch.judge.trailers import parse_trailers


def git_parse(message: str) -> list[str]:
    proc = subprocess.run(["git", "interpret-trailers", "--parse"], input=message,
                          capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def ours(message: str) -> list[str]:
    return [f"{t.key}: {t.value}" for t in parse_trailers(message)]


CASES = {
    "repeated keys": "Title\n\nbody\n\nOrch-Task: t1\nOrch-Evidence: local: a\n"
                     "Orch-Evidence: proxy: b\n",
    "folding": "Title\n\nOrch-Task: t1\nOrch-Evidence: local: the tests\n  pass\n\tfully\n",
    "wrong case": "Title\n\norch-task: t1\nORCH-EVIDENCE: local: x\n",
    "equals separator": "Title\n\nOrch-Task=t1\nOrch-Evidence: local: x\n",
    "only equals": "Title\n\nOrch-Task=t1\n",
    "space before colon": "Title\n\nOrch-Task : t1\n",
    "not last paragraph": "Title\n\nOrch-Task: t1\n\nplain closing words\n",
    "mixed with signed-off": "Title\n\nOrch-Task: t1\nsome prose line\nand more\n"
                             "Signed-off-by: A <a@b>\n",
    "patch divider": "Title\n\nOrch-Task: t1\n---\n a/file | 1 +\n",
    "comments": "Title\n\nOrch-Task: t1\n# a comment\nOrch-Gate: make test\n",
    "title only": "Orch-Task: t1\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_trailers_matches_git(name: str) -> None:
    assert ours(CASES[name]) == git_parse(CASES[name])


def test_the_cases_mean_what_review_relies_on() -> None:
    assert ours(CASES["repeated keys"])[1:] == ["Orch-Evidence: local: a",
                                                "Orch-Evidence: proxy: b"]
    assert ours(CASES["folding"])[1] == "Orch-Evidence: local: the tests pass fully"
    assert ours(CASES["wrong case"]) == ["orch-task: t1", "ORCH-EVIDENCE: local: x"]
    assert ours(CASES["equals separator"]) == []


_LINE = st.one_of(
    st.sampled_from(["", "Orch-Task: t1", "orch-task: t2", "Orch-Task=t1", "Key : v",
                     "Signed-off-by: A <a@b>", "(cherry picked from commit abc)",
                     "# comment", "---", "--- x", "plain words", "Conflicts:", "\tsrc/a.py",
                     "  folded more", "Orch-Evidence: local: ok", "a-b-c:", ": no key",
                     "Key:value", "Key:  spaced   value  "]),
    st.from_regex(r"[A-Za-z][A-Za-z-]{0,8}[ ]?[:=][ a-z]{0,6}", fullmatch=True),
    st.from_regex(r"[ \t][a-z ]{0,8}", fullmatch=True),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.sampled_from(["Title", "Key: v"]), body=st.lists(_LINE, max_size=8))
def test_parse_trailers_matches_git_on_generated_messages(title: str, body: list[str]) -> None:
    message = title + "\n\n" + "\n".join(body) + "\n"
    assert ours(message) == git_parse(message), message
