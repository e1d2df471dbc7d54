"""Property tests: the ledger reader and merge survive anything and lose no valid event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2
from hypothesis import given, settings
from hypothesis import strategies as st

from git_orch.landing.merge import merge_trees, put_notes
from git_orch.record.ledger import encode_event, iter_notes, merge_logs, parse_log
from git_orch.record.state import fold

TYPES = ["created", "activated", "handoff", "blocked", "accepted", "rejected", "merged", "note"]

valid_events = st.builds(
    lambda uid, lamport, kind, extra: {
        "v": 1, "id": uid.hex, "lamport": lamport, "type": kind, "task": "t1",
        "at": "2026-01-01T00:00:00Z", "actor": "A", "x": extra,
    },
    st.uuids(),
    st.integers(min_value=0, max_value=5000),
    st.sampled_from(TYPES),
    st.text(max_size=20),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["v", "id", "lamport", "type", "task", "k"]) | st.text(
        max_size=5), inner, max_size=5),
    max_leaves=15,
)

garbage_lines = st.one_of(
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b" ")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=40).map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
)


@st.composite
def notes(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]]]:
    """A note: valid event lines shuffled among garbage; returns (bytes, the valid events)."""
    events = draw(st.lists(valid_events, max_size=12, unique_by=lambda e: e["id"]))
    lines = [encode_event(e).rstrip(b"\n") for e in events]
    lines += draw(st.lists(garbage_lines, max_size=12))
    lines = draw(st.permutations(lines))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"])), events


def canonical_events(data: bytes) -> set[bytes]:
    """Every line of data that is a well-formed v1 event, canonically encoded."""
    out = set()
    for raw in data.split(b"\n"):
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        log = parse_log(raw)
        if log.events:
            out.add(encode_event(obj))
    return out


@settings(max_examples=300)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_reader_or_merge(data: bytes) -> None:
    log = parse_log(data)
    assert all(isinstance(e["lamport"], int) for e in log.events)
    fold("t1", log.events)
    merged = merge_logs(data, data)
    assert merge_logs(merged, b"") == merged


@settings(max_examples=200)
@given(notes())
def test_valid_events_among_garbage_all_come_back(note: tuple[bytes, list[dict[str, Any]]]) -> None:
    data, events = note
    log = parse_log(data)
    ids = [e["id"] for e in log.events]
    assert {e["id"] for e in events} <= set(ids)
    assert len(ids) == len(set(ids))
    assert [(e["lamport"], e["id"]) for e in log.events] == sorted(
        (e["lamport"], e["id"]) for e in log.events
    )


@settings(max_examples=200)
@given(notes(), notes(), notes())
def test_merge_keeps_everything_and_is_a_set_union(
    a: tuple[bytes, list[dict[str, Any]]],
    b: tuple[bytes, list[dict[str, Any]]],
    c: tuple[bytes, list[dict[str, Any]]],
) -> None:
    (da, ea), (db, eb), (dc, _) = a, b, c
    ab = merge_logs(da, db)
    # Every valid event of either side is in the merge, and the reader returns it.
    assert canonical_events(da) | canonical_events(db) <= canonical_events(ab)
    assert {e["id"] for e in ea + eb} <= {e["id"] for e in parse_log(ab).events}
    # Unreadable lines are carried too (a newer git-orch may read them).
    lines = {ln for ln in (da + b"\n" + db).split(b"\n") if ln.strip()}
    assert {ln for ln in lines if not canonical_events(ln)} <= set(ab.split(b"\n"))
    # Commutative, idempotent, associative: every machine computes the same bytes.
    assert ab == merge_logs(db, da)
    assert merge_logs(ab, ab) == ab and merge_logs(ab, da) == ab
    assert merge_logs(ab, dc) == merge_logs(da, merge_logs(db, dc))
    # So the folded state is the same whichever side merged.
    assert fold("t1", parse_log(ab).events) == fold("t1", parse_log(merge_logs(db, da)).events)


@settings(max_examples=100)
@given(notes(), st.randoms())
def test_state_does_not_depend_on_line_order(note: tuple[bytes, list[dict[str, Any]]],
                                             rnd: Any) -> None:
    data, _ = note
    lines = data.split(b"\n")
    rnd.shuffle(lines)
    assert parse_log(b"\n".join(lines)).events == parse_log(data).events


def test_put_notes_writes_many_notes_and_keeps_any_fanout(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r"), bare=True)
    blob = repo.create_blob(b"old\n")
    flat, deep, plain = "aa" + "1" * 38, "bb" + "2" * 38, "cc" + "3" * 38
    inner = repo.TreeBuilder()
    inner.insert(deep[4:], blob, pygit2.GIT_FILEMODE_BLOB)
    middle = repo.TreeBuilder()
    middle.insert(deep[2:4], inner.write(), pygit2.GIT_FILEMODE_TREE)
    root = repo.TreeBuilder()
    root.insert(flat, blob, pygit2.GIT_FILEMODE_BLOB)  # flat, as old git writes
    root.insert(deep[:2], middle.write(), pygit2.GIT_FILEMODE_TREE)  # 2/2/36
    root.insert("README", blob, pygit2.GIT_FILEMODE_BLOB)  # not a note: left alone
    tree = repo[root.write()]
    new = repo.create_blob(b"new\n")
    fresh = [f"{n:02x}" + "4" * 38 for n in range(40)]
    result = repo[put_notes(repo, tree, {flat: new, deep: new, plain: new,
                                         **dict.fromkeys(fresh, new)})]
    notes = dict(iter_notes(repo, result))
    assert set(notes) == {flat, deep, plain, *fresh}
    assert set(notes.values()) == {new}
    assert flat not in result and "README" in result  # moved into the 2/38 fanout
    assert result[flat[:2]].type_str == "tree"


def test_repeated_event_id_is_resolved_the_same_whatever_the_order() -> None:
    one = {"v": 1, "id": "dup", "lamport": 2, "type": "accepted", "head": "a" * 40}
    two = {**one, "head": "b" * 40}
    first = parse_log(encode_event(one) + encode_event(two))
    second = parse_log(encode_event(two) + encode_event(one))
    assert first.events == second.events and len(first.events) == 1
    assert "appears more than once" in first.problems[0]
    # Both lines survive a merge; the reader picks the same one everywhere.
    merged = merge_logs(encode_event(one), encode_event(two))
    assert merged.count(b'"id":"dup"') == 2
    assert parse_log(merged).events == first.events


def test_lamport_caps_skip_the_jump_but_keep_what_follows_normally() -> None:
    lines = [{"v": 1, "id": f"e{n}", "lamport": n, "type": "note"} for n in (1, 2, 3)]
    lines.append({"v": 1, "id": "far", "lamport": 3 + 1_000_001, "type": "abandoned"})
    lines.append({"v": 1, "id": "max", "lamport": 2**53 + 1, "type": "abandoned"})
    log = parse_log(b"".join(encode_event(e) for e in lines))
    assert [e["id"] for e in log.events] == ["e1", "e2", "e3"]
    assert log.max_lamport == 3 and len(log.problems) == 2
    near = {"v": 1, "id": "near", "lamport": 3 + 1_000_000, "type": "note"}
    assert parse_log(encode_event(near) + encode_event(lines[2])).events[-1]["id"] == "near"


note_ids = st.sampled_from([f"{n:02x}" + f"{n * 7:038x}" for n in range(0, 256, 37)] +
                           ["ab" + "0" * 38, "ab" + "1" * 38])


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(note_ids, notes().map(lambda n: n[0]), max_size=5),
       st.dictionaries(note_ids, notes().map(lambda n: n[0]), max_size=5))
def test_tree_merge_gives_the_same_notes_in_either_direction(
    tmp_path_factory: Any, ours: dict[str, bytes], theirs: dict[str, bytes]
) -> None:
    theirs.update(dict(list(ours.items())[:1]))  # and one identical note
    repo = pygit2.init_repository(str(tmp_path_factory.mktemp("r")), bare=True)

    def tree(notes_: dict[str, bytes]) -> pygit2.Tree:
        blobs = {h: repo.create_blob(data) for h, data in notes_.items()}
        return repo[put_notes(repo, None, blobs)]

    def content(oid: pygit2.Oid) -> dict[str, bytes]:
        return {h: repo[b].data for h, b in iter_notes(repo, repo[oid])}

    one = merge_trees(repo, tree(ours), tree(theirs), "theirs")
    two = merge_trees(repo, tree(theirs), tree(ours), "ours")
    assert one.tree is not None and two.tree is not None
    assert content(one.tree) == content(two.tree)
    for hexid, data in content(one.tree).items():
        if hexid in ours and hexid in theirs and ours[hexid] != theirs[hexid]:
            assert data == merge_logs(ours[hexid], theirs[hexid])
        else:
            assert data == ours.get(hexid, theirs.get(hexid))


# Lines that start with `{` as events do, then what may follow a value: the reader's
# shortcut for ASCII notes must read each one exactly as json.loads reads it alone.
_AFTER_VALUE = st.sampled_from([b"", b" ", b"\t", b"\r", b" \r\t", b"x", b" {}", b",{}", b"}",
                                b"\x0b", b"\x0c", b"]", b"\\", b'"'])
object_lines = st.one_of(
    st.tuples(valid_events, _AFTER_VALUE).map(lambda p: encode_event(p[0]).rstrip(b"\n") + p[1]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(
        lambda t: b"{" + t.encode()),
    json_values.map(lambda v: json.dumps({"v": 1, "k": v}).encode()),
    st.just(b"{" * 2000 + b"}" * 2000),  # deeper than the scanner goes
    st.sampled_from([b"", b" ", b"\x0b", b"\r", b'{"id":"\xc3\xa9"}', b"{\x00}"]),
)


def read_line_by_line(data: bytes) -> tuple[list[tuple[int, Any]], list[int]]:
    """What json.loads makes of each line that is not blank: (number, value) of those it
    reads, numbers of those it refuses."""
    values, refused = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            values.append((number, json.loads(raw)))
        except (ValueError, RecursionError):
            refused.append(number)
    return values, refused


@settings(max_examples=300)
@given(st.lists(object_lines, max_size=12))
def test_each_line_reads_as_json_loads_reads_it_alone(lines: list[bytes]) -> None:
    data = b"\n".join(lines)
    values, refused = read_line_by_line(data)
    log = parse_log(data)
    refusals = [p for p in log.problems if "not valid JSON" in p]
    assert refusals == [f"note line {n}: not valid JSON; skipped" for n in refused]
    events = [v for _, v in values if isinstance(v, dict) and v.get("v") == 1
              and type(v.get("v")) is int and isinstance(v.get("id"), str)
              and isinstance(v.get("type"), str) and type(v.get("lamport")) is int
              and v["lamport"] >= 0]
    assert sorted(e["id"] for e in log.events) == sorted({e["id"] for e in events})
    assert all(e in events for e in log.events)
