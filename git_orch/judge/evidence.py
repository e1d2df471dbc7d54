"""Evidence trailers on worker commits, and the rules that judge them.

`Orch-Evidence: <label>: <claim>` says what the worker claims and how it is
known. A claim is only as strong as its label: `local` (a check anyone can
re-run in a clean worktree) and `proxy` (indirect) must not speak of the real
target; `direct` must point at an artifact; `blocked` is an honest "not
proven" that only a person may accept. Used by review and by CI verify.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from git_orch.judge.trailers import Trailer

LABELS = ("direct", "proxy", "local", "blocked")
EVIDENCE_KEY = "Orch-Evidence"
GATE_KEY = "Orch-Gate"
ARTIFACT_KEY = "Orch-Artifact"
TASK_KEY = "Orch-Task"
ORCH_KEYS = (TASK_KEY, EVIDENCE_KEY, GATE_KEY, ARTIFACT_KEY)

# Words that claim an observation of the real target. Said under a `local` or
# `proxy` label they claim more than the label can carry.
OVERCLAIM = re.compile(
    r"\b(?:production|prod|live|deployed|on[- ]device|on (?:the |a )?(?:real )?device"
    r"|real (?:device|hardware|users?)|in the field"
    r"|verified on (?:the )?target|on (?:the )?target)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    label: str
    text: str


def parse_claim(value: str) -> Claim | None:
    """`<label>: <claim>` with a known label and a non-empty claim, else None."""
    label, sep, text = value.partition(":")
    label = label.strip()
    if not sep or label not in LABELS or not text.strip():
        return None
    return Claim(label, " ".join(text.split()))


def overclaim_words(claim: Claim) -> list[str]:
    """Target words in a local or proxy claim (empty for direct and blocked)."""
    if claim.label not in ("local", "proxy"):
        return []
    return sorted({m.group(0).lower() for m in OVERCLAIM.finditer(claim.text)})


def is_url(value: str) -> bool:
    return bool(_URL.fullmatch(value.strip()))


def gate_argv(command: str) -> list[str] | None:
    """A gate command as argv (shlex rules, no shell), or None if it cannot be split."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    return argv or None


def same_gate(a: str, b: str) -> bool:
    """Two gate commands are the same when they split to the same argv."""
    argv_a, argv_b = gate_argv(a), gate_argv(b)
    return argv_a is not None and argv_a == argv_b


def _squash(text: str) -> str:
    return " ".join(text.split())


def gate_claims(gate: str, trailers: list[Trailer]) -> list[str]:
    """How a gate is claimed: "Orch-Gate" for a trailer whose command splits to
    the same argv, or the label of each evidence claim whose text contains the
    command (whitespace collapsed). Empty: the gate is unclaimed."""
    ways: list[str] = []
    for trailer in trailers:
        if trailer.is_key(GATE_KEY) and same_gate(trailer.value, gate):
            ways.append(GATE_KEY)
        elif trailer.is_key(EVIDENCE_KEY):
            claim = parse_claim(trailer.value)
            if claim and _squash(gate) in claim.text:
                ways.append(claim.label)
    return ways


def wrong_case_keys(trailers: list[Trailer]) -> list[str]:
    """git-orch keys written in another case (git accepts them; we flag them)."""
    wrong = []
    for trailer in trailers:
        for key in ORCH_KEYS:
            if trailer.is_key(key) and trailer.key != key:
                wrong.append(trailer.key)
    return wrong
