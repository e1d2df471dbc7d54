"""`git orch status` for a terminal: the Board as text, absolute times with relative ones.

Every text that comes from the ledger or a worker goes through clean(), so a
title or reason can never move the cursor or forge a line.
"""

from __future__ import annotations

from git_orch.report.board import Board, Card
from git_orch.sanitize import clean
from git_orch.workspace import reconcile


def when(stamp: float | None, now: float) -> str:
    """`2026-11-29T20:01:02Z (3m ago)`: absolute, and relative for a person reading now."""
    if stamp is None:
        return "-"
    seconds = max(0, int(now - stamp))
    ago = f"{seconds}s ago"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            ago = f"{seconds // size}{unit} ago"
            break
    return f"{reconcile.iso(stamp)} ({ago})"


def _task_line(card: Card, now: float) -> str:
    view = card.view
    commits = ""
    if view.commits is not None:
        commits = f"{view.commits} commit{'s' if view.commits != 1 else ''}, "
    return (f"  {clean(card.task_id):<16} {clean(view.state.state):<21} {commits}"
            f"last {when(view.last_activity, now)} - {clean(view.contract.title)}")


def _details(card: Card, shown_fix: bool = False, indent: str = "    ") -> list[str]:
    st = card.view.state
    where = f"branch {clean(st.branch or '-')}"
    if st.worktree:
        where += f", worktree {clean(card.workspace)}"
    if card.agent:
        where += f"; agent {clean(card.agent)}: {clean(card.outcome)}"
    if card.spend:
        where += f"; spent {card.spend}"
    out = [indent + where]
    if card.sandbox_note:
        out.append(f"{indent}{clean(card.sandbox_note)}")
    if st.summary:
        out.append(f"{indent}handoff: {clean(st.summary)}")
    out += [f"{indent}risk: {clean(r)}" for r in st.risks[:5]]
    if card.reason and not shown_fix:  # with items, the reason is already their why
        out.append(f"{indent}reason: {clean(card.reason)}")
    if not shown_fix:
        out.append(f"{indent}next: {clean(card.next)}")
    return out


def render_text(board: Board) -> str:
    now = board.now
    ov = board.overview
    out = [f"Status at {reconcile.iso(now)}: {board.summary()}"]
    mode = ov.dispatch.get("mode")
    note = f" ({clean(ov.dispatch['note'])})" if ov.dispatch.get("note") else ""
    nxt = f"next: {clean(board.next_task)}" if board.next_task else "next starts nothing"
    if board.whole:
        out.append(f"Dispatch: {clean(mode)}{note}; {nxt}")
        out += [f"  {clean(r)}" for r in board.next_reasons]
    for name, b in board.breakers.items():
        until = f", until {b['until']}" if b.get("until") else ""
        out.append(f"  agent breaker {clean(name)}: {b['state']} after {b['failures']} "
                   f"failures{until}")
    out.append(f"Needs you ({len(board.needs)})")
    for task_id in board.needs_tasks:
        card = board.cards[task_id]
        out.append(_task_line(card, now))
        for item in (i for i in board.needs if i.task == task_id):
            out.append(f"    [{item.kind}] {item.why}")
            out.append(f"      fix: {item.fix}")
        out += _details(card, shown_fix=True)
    for item in board.loop_needs:
        out.append(f"  [{item.kind}] {item.why}")
        out.append(f"      fix: {item.fix}")
    if not board.needs:
        out.append("  nothing")
    for title, cards in (("Running", board.running), ("Open", board.open)):
        out.append(f"{title} ({len(cards)})")
        for card in cards:
            out.append(_task_line(card, now))
            out += _details(card)
        if not cards:
            out.append("  nothing")
    if board.advisory:
        out.append(f"Advisory isolation ({len(board.advisory)}): worktree workers share this "
                   f"git dir and can write it: {', '.join(board.advisory[:10])}"
                   + (" ..." if len(board.advisory) > 10 else ""))
    if board.trust:
        out.append(f"Trust ({len(board.trust)}; worst first)")
        out.extend(f"  {clean(line)}" for line in board.trust)
    shown = f"{len(board.ended)} of {board.ended_total}" if board.ended_total > len(board.ended) \
        else str(board.ended_total)
    out.append(f"Recently ended ({shown})")
    for card in board.ended:
        out.append(_task_line(card, now))
        if card.reason:
            out.append(f"    reason: {clean(card.reason)}")
    if not board.ended:
        out.append("  nothing")
    if board.packages:
        out.append(f"Packages ({len(board.packages)})")
        out += [f"  {clean(p.name):<16} {p.progress}, {p.running} running, {p.waiting} waiting"
                + (f", spent {board.spend[p.name]}" if p.name in board.spend else "")
                for p in board.packages]
    beat = ov.heartbeat
    if board.whole:
        out.append("Heartbeat: " + (
            f"last {when(beat.at, now)}, interval {beat.interval}s"
            + (" - MISSED" if beat.missed(now) else "") if beat is not None
            else "none on this machine (git orch heartbeat)"))
    if ov.problems:
        out.append(f"Ledger problems ({len(ov.problems)})")
        out.extend(f"  {clean(p)}" for p in ov.problems[:10])
    return "\n".join(out)
