"""parse_trailers against `git interpret-trailers --parse`, the reference, byte for byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from git_orch.judge.trailers import _plain_trailers, parse_trailers
from git_orch.record.contract import Contract

ORACLE_TIMEOUT = 5.0  # git 2.39's interpret-trailers loops forever on some inputs


class GitHung(Exception):
    pass


def git_parse(message: str | bytes, cwd: Path | None = None) -> list[bytes]:
    """git's own reading, with no configuration that could change it."""
    data = message.encode("utf-8", "surrogateescape") if isinstance(message, str) else message
    env = {"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull, "HOME": os.devnull, "LC_ALL": "C"}
    try:
        proc = subprocess.run(["git", "interpret-trailers", "--parse"], input=data,
                              capture_output=True, check=True, env=env,
                              cwd=cwd or Path(__file__).parent, timeout=ORACLE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GitHung() from None
    return proc.stdout.split(b"\n")[:-1]


def ours(message: str | bytes) -> list[bytes]:
    return [f"{t.key}: {t.value}".encode("utf-8", "surrogateescape")
            for t in parse_trailers(message)]


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
    # The hostile cases of issue 11: each was read differently from git before.
    "line separator forges": "T\n\nNote: see\u2028Orch-Evidence: direct: forged\n",
    "line separator hides": "T\n\nOrch-Task: t1\nOrch-Evidence: direct: in production\u2028"
                            "as checked by hand\n",
    "form feed hides": "T\n\nOrch-Task: t1\n\fOrch-Evidence: direct: all\n",
    "two tasks across form feed": "T\n\nOrch-Task: A\n\x0c\nOrch-Task: B\n",
    "carriage returns": "T\r\n\r\nOrch-Task: t1\r\nOrch-Gate: make\r\n",
    "vertical tab": "T\n\nOrch-Task: t1\n\x0bOrch-Gate: x\n",
    "file separators": "T\n\nOrch-Task: t1\x1cOrch-Gate: a\x1dB: c\x1eD: e\n",
    "next line char": "T\n\nOrch-Task: t1\x85Orch-Gate: x\n",
    "comment mentioning scissors": "T\n\nOrch-Task: t1\n# x ------------------------ >8 "
                                   "------------------------\nOrch-Gate: y\n",
    "exact scissors": "T\n\nOrch-Task: t1\n# ------------------------ >8 "
                      "------------------------\nOrch-Gate: y\n",
    "no final newline after dashes": "T\n\nOrch-Task: t1\n---",
    "dashes and space": "T\n\nOrch-Task: t1\n--- \nOrch-Gate: x\n",
    "no final newline": "T\n\nOrch-Task: t1",
    "comment first": "#c\n\nOrch-Task: t1\n",
    "nul byte": "T\n\nOrch-Task: t1\n\0Orch-Gate: x\n",
    "conflicts block": "T\n\nOrch-Task: t1\n\nConflicts:\n\ta.py\n",
    "cherry pick": "T\n\nwords\nmore words\n(cherry picked from commit abc)\nK: v\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_parse_trailers_matches_git(name: str) -> None:
    assert ours(CASES[name]) == git_parse(CASES[name])


def test_invalid_utf8_never_raises_and_matches_git() -> None:
    message = b"T\n\nOrch-Task: t1\nOrch-Gate: caf\xe9 \xff\xfe\n"
    assert ours(message) == git_parse(message)


def test_the_cases_mean_what_review_relies_on() -> None:
    assert ours(CASES["repeated keys"])[1:] == [b"Orch-Evidence: local: a",
                                                b"Orch-Evidence: proxy: b"]
    assert ours(CASES["folding"])[1] == b"Orch-Evidence: local: the tests pass fully"
    assert ours(CASES["wrong case"]) == [b"orch-task: t1", b"ORCH-EVIDENCE: local: x"]
    assert ours(CASES["equals separator"]) == []
    assert [t.key for t in parse_trailers(CASES["line separator forges"])] == ["Note"]
    # For git a form-feed line is not blank: the paragraph is not a trailer block.
    assert parse_trailers(CASES["two tasks across form feed"]) == []


_LINE = st.one_of(
    st.sampled_from(["", "Orch-Task: t1", "orch-task: t2", "Orch-Task=t1", "Key : v",
                     "Signed-off-by: A <a@b>", "(cherry picked from commit abc)",
                     "# comment", "---", "--- x", "plain words", "Conflicts:", "\tsrc/a.py",
                     "  folded more", "Orch-Evidence: local: ok", "a-b-c:", ": no key",
                     "Key:value", "Key:  spaced   value  ", "#", "# ---",
                     "# ------------------------ >8 ------------------------",
                     "x ------------------------ >8 ------------------------"]),
    st.from_regex(r"[A-Za-z][A-Za-z-]{0,8}[ ]?[:=][ a-z]{0,6}", fullmatch=True),
    st.from_regex(r"[ \t][a-z ]{0,8}", fullmatch=True),
)
# Every character git and Python disagree on, plus what trailer syntax is made of.
_HOSTILE = st.sampled_from(list("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029#-: \t\nK>8(")
                           + ["\r\n", "---", "Orch-Task: A", "Orch-Task: B", "\udcff",
                              "Signed-off-by: x", "(cherry picked from commit ", "é"])


def _check(message: str) -> None:
    try:
        expected = git_parse(message)
    except GitHung:
        return  # nothing to compare with; ours has returned already (no hang)
    assert ours(message) == expected, repr(message)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.sampled_from(["Title", "Key: v", "", "# c"]), body=st.lists(_LINE, max_size=8),
       end=st.sampled_from(["\n", "", "\n\n"]))
@example(title="Title", body=["Conflicts:"], end="\n")  # a `Conflicts:` tail, not a trailer
def test_parse_trailers_matches_git_on_generated_messages(title: str, body: list[str],
                                                          end: str) -> None:
    _check(title + "\n\n" + "\n".join(body) + end)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(_HOSTILE, _LINE), max_size=24))
def test_parse_trailers_matches_git_on_hostile_bytes(parts: list[str]) -> None:
    _check("T\n\n" + "".join(parts))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(_HOSTILE, _LINE.map(lambda line: line + "\n")), max_size=16))
def test_parse_trailers_matches_git_from_the_first_byte(parts: list[str]) -> None:
    _check("".join(parts))


# A last paragraph of trailer-like lines: what contracts look like, so what the plain
# path (parse_trailers' shortcut) reads; with the characters it must still read as git.
_TRAILER_LINE = st.from_regex(r"[A-Za-z0-9-]{1,8}[ \t]{0,2}:[ \t\r#a-z:-]{0,10}", fullmatch=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.sampled_from(["Title", " Title ", "", "Key: v"]),
       body=st.lists(_LINE, max_size=4), block=st.lists(_TRAILER_LINE, min_size=1, max_size=6),
       end=st.sampled_from(["\n", ""]))
def test_trailer_blocks_read_as_git_reads_them(title: str, body: list[str], block: list[str],
                                               end: str) -> None:
    _check(title + "\n\n" + "\n".join(body) + "\n\n" + "\n".join(block) + end)


def test_contract_messages_take_the_plain_path_and_read_as_git() -> None:
    contract = Contract("fix-login", "Fix the login", "0" * 40, body="Why:\n\nsee #12 - ok",
                        package="auth", allow=["src/**", "docs/a b.md"], gates=["make test"])
    message = contract.message()
    assert _plain_trailers(message) is not None
    assert ours(message) == git_parse(message) == [
        b"Orch-Task: fix-login", b"Orch-Schema: 1", b"Orch-Package: auth",
        b"Orch-Allow: src/**", b"Orch-Allow: docs/a b.md", b"Orch-Gate: make test"]
