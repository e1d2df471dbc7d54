"""Objects and refs without libgit2: git reads what git_orch.objects writes, and the
ledger's plain write path lays out the notes tree exactly as the pygit2 one does."""

from __future__ import annotations

import json
from pathlib import Path

import pygit2
import pytest
from conftest import Repo, git, ledger_note
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from git_orch.objects import BLOB_MODE, TREE_MODE, Entry, Objects, object_id, parse_tree
from git_orch.record import ledger
from git_orch.repo import OrchRepo


def test_written_objects_are_what_git_writes_and_reads(plain_repo: Repo) -> None:
    objs = Objects(OrchRepo(plain_repo.path).common_dir)
    blob = objs.write("blob", b"hello\n")
    assert blob == plain_repo.git("hash-object", "--stdin", input="hello\n")
    # git's tree order: a folder sorts as if its name ended in '/'.
    sub = objs.write_tree({"x": Entry(BLOB_MODE, "x", blob)})
    entries = {"a.b": Entry(BLOB_MODE, "a.b", blob), "a": Entry(TREE_MODE, "a", sub),
               "a-b": Entry(BLOB_MODE, "a-b", blob)}
    tree = objs.write_tree(entries)
    listing = f"100644 blob {blob}\ta-b\n100644 blob {blob}\ta.b\n040000 tree {sub}\ta\n"
    assert tree == plain_repo.git("mktree", input=listing)
    commit = objs.write("commit", ledger.commit_bytes(tree, [], ("A. U. Thor ", "a@b.c"), "m"))
    assert plain_repo.git("cat-file", "-p", commit).splitlines()[1].startswith(
        "author A. U. Thor <a@b.c> ")
    assert plain_repo.git("fsck", "--strict", "--no-dangling") == ""
    assert objs.read(tree) == ("tree", objs.read_kind(tree, "tree"))
    assert parse_tree(objs.read_kind(tree, "tree")) == entries
    assert objs.write("blob", b"hello\n") == blob  # already there: kept
    assert not list((OrchRepo(plain_repo.path).common_dir / "objects").rglob("tmp_obj_*"))


def test_packed_and_missing_objects_are_read_through_git(plain_repo: Repo) -> None:
    common = OrchRepo(plain_repo.path).common_dir
    head = plain_repo.rev("HEAD")
    plain_repo.git("gc", "-q")
    assert not (common / "objects" / head[:2] / head[2:]).exists()
    objs = Objects(common)
    assert objs.read(head) == ("commit", objs.read_kind(head, "commit"))
    assert objs.read_kind(head, "commit").startswith(b"tree ")
    assert objs.read("0" * 40) is None
    assert objs.read("HEAD") is None  # full ids only: no name is ever resolved
    with pytest.raises(Exception, match="is not a tree"):
        objs.tree(head)


def test_ref_oid_is_exact(plain_repo: Repo) -> None:
    orepo = OrchRepo(plain_repo.path)
    head = plain_repo.rev("HEAD")
    assert orepo.ref_oid("refs/orch/ledger") is None
    # A branch that git's name guessing would take for refs/orch/ledger.
    plain_repo.git("update-ref", "refs/heads/refs/orch/ledger", head)
    assert orepo.ref_oid("refs/orch/ledger") is None
    plain_repo.git("update-ref", "refs/orch/ledger", head)
    assert orepo.ref_oid("refs/orch/ledger") == head
    plain_repo.git("pack-refs", "--all")
    assert orepo.ref_oid("refs/orch/ledger") == head  # packed: read from packed-refs
    assert orepo.ref_oid("refs/orch/ledge") is None  # a prefix of a packed name
    assert orepo.ref_oid("refs/heads/refs/orch/ledger") == head
    plain_repo.git("update-ref", "-d", "refs/heads/refs/orch/ledger")  # gone from packed-refs
    assert orepo.ref_oid("refs/heads/refs/orch/ledger") is None
    assert orepo.ref_oid("refs/orch/ledger") == head
    plain_repo.git("symbolic-ref", "refs/orch/alias", "refs/orch/ledger")
    assert orepo.ref_oid("refs/orch/alias") == head
    assert orepo.ref_oid("refs/orch/../../HEAD") is None


def _pygit2_put(repo: pygit2.Repository, tree: pygit2.Oid | None, hexid: str,
                blob: pygit2.Oid) -> pygit2.Oid:
    return ledger.put_note(repo, repo[tree] if tree is not None else None, hexid, blob)


SHAPES = st.sampled_from(["flat", "2/38", "2/2/36", "fresh"])
WRITES = st.lists(st.tuples(SHAPES, st.sampled_from(["aa", "ab", "ba"]),
                            st.binary(min_size=1, max_size=8)), min_size=1, max_size=8)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(WRITES)
def test_plain_put_note_builds_the_trees_pygit2_builds(
        tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[str, str, bytes]]) -> None:
    path = tmp_path_factory.mktemp("notes")
    git("init", "-q", cwd=path)
    repo = pygit2.Repository(str(path / ".git"))
    objs = Objects(path / ".git")
    ours: str | None = None
    theirs: pygit2.Oid | None = None
    for shape, prefix, data in writes:
        hexid = (prefix + data.hex() * 40)[:40]
        blob = repo.create_blob(data)
        if shape != "fresh":  # someone else's layout of an existing note, on both sides
            name = {"flat": hexid, "2/38": f"{hexid[:2]}/{hexid[2:]}",
                    "2/2/36": f"{hexid[:2]}/{hexid[2:4]}/{hexid[4:]}"}[shape]
            listing = git("ls-tree", "-r", ours, cwd=path).splitlines() if ours else []
            kept = [ln for ln in listing if ln.split("\t")[1].replace("/", "") != hexid]
            spec = "".join(f"{ln}\n" for ln in kept) + f"100644 blob {blob}\t{name}\n"
            ours = _nested_tree(path, spec)
            theirs = pygit2.Oid(hex=ours)
        tree = objs.tree(ours) if ours else None
        ours = ledger.put_note_in(objs, tree, hexid, str(blob))
        theirs = _pygit2_put(repo, theirs, hexid, blob)
        assert ours == str(theirs)


def _nested_tree(path: Path, listing: str) -> str:
    """A tree with nested paths from `ls-tree -r` lines (mktree takes one level)."""
    files: dict[str, str] = {}
    for line in listing.splitlines():
        info, name = line.split("\t")
        files[name] = info
    return _level(path, files)


def _level(path: Path, files: dict[str, str]) -> str:
    here, below = [], {}
    for name, info in files.items():
        head, _, rest = name.partition("/")
        if rest:
            below.setdefault(head, {})[rest] = info
        else:
            here.append(f"{info}\t{name}\n")
    for head, sub in below.items():
        here.append(f"040000 tree {_level(path, sub)}\t{head}\n")
    return git("mktree", cwd=path, input="".join(here))


def test_a_write_keeps_someone_elses_fanout_and_git_reads_the_note(repo: Repo) -> None:
    repo.orch_ok("start", "t1", "--title", "x", "--no-worktree")
    contract = repo.rev("refs/orch/tasks/t1")
    note = ledger_note(repo, contract) + "\n"
    # git notes itself, for a big notes tree, may fan out 2/2/36.
    blob = repo.git("hash-object", "-w", "--stdin", input=note)
    inner = repo.git("mktree", input=f"100644 blob {blob}\t{contract[4:]}\n")
    middle = repo.git("mktree", input=f"040000 tree {inner}\t{contract[2:4]}\n")
    root = repo.git("mktree", input=f"040000 tree {middle}\t{contract[:2]}\n")
    tip = repo.git("commit-tree", root, "-p", "refs/orch/ledger", "-m", "deep")
    repo.git("update-ref", "refs/orch/ledger", tip)
    repo.orch_ok("block", "--task", "t1", "--reason", "why")
    names = repo.git("ls-tree", "-r", "--name-only", "refs/orch/ledger").splitlines()
    assert names == [f"{contract[:2]}/{contract[2:4]}/{contract[4:]}"]
    types = [json.loads(x)["type"] for x in ledger_note(repo, contract).splitlines()]
    assert types == ["created", "activated", "blocked"]
    assert repo.git("rev-parse", "refs/orch/ledger^") == tip


def test_an_identity_git_cannot_sign_is_refused_in_one_line(repo: Repo) -> None:
    repo.orch_ok("start", "t1", "--title", "x", "--no-worktree")
    before = repo.rev("refs/orch/ledger")
    env = {"GIT_COMMITTER_NAME": "Eve <evil@example.com>"}
    result = repo.orch_proc("block", "--task", "t1", "--reason", "x", env=env)
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "cannot sign a ledger commit" in result.err
    assert repo.rev("refs/orch/ledger") == before


def test_the_object_id_is_git_s(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    (tmp_path / "f").write_bytes(b"\0binary\n")
    assert object_id("blob", b"\0binary\n") == git("hash-object", "f", cwd=tmp_path)


def test_objects_borrowed_through_alternates_are_read_without_git(plain_repo: Repo,
                                                                 tmp_path: Path) -> None:
    head = plain_repo.rev("HEAD")
    clone = tmp_path / "borrower"
    git("clone", "-q", "--shared", "--no-checkout", str(plain_repo.path), str(clone),
        cwd=tmp_path)
    objs = Objects(clone / ".git")
    assert not (clone / ".git" / "objects" / head[:2]).exists()
    assert objs.read_kind(head, "commit").startswith(b"tree ")
    assert objs._proc is None  # no cat-file was needed


def test_have_tells_which_ids_git_has_in_one_call(plain_repo: Repo) -> None:
    """Loose and packed objects count; a missing id, ledger junk and an
    abbreviation do not (ids read from the ledger are hostile text)."""
    loose = git("hash-object", "-w", "--stdin", cwd=plain_repo.path, input="loose\n")
    head = plain_repo.rev("HEAD")
    git("gc", "-q", cwd=plain_repo.path)  # HEAD's objects are packed now
    objs = OrchRepo(plain_repo.path).objects
    missing = "0" * 40
    asked = [head, head, loose, missing, head[:12], "--batch", f"{head}\nHEAD", ""]
    assert objs.have(asked) == {head, loose}
    assert objs.have([]) == set()
