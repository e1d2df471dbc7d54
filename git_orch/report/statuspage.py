"""The status page: status.md and a self-contained status.html, from the one Board.

Both show the Board's sections in the terminal's order, with its counts: dispatch,
what needs a person (with the fix to run), what runs, what is open, what ended,
a card per task that needs attention or works, packages, heartbeat, problems.
Times are absolute (the page is read later). Everything shown comes from the
ledger or the repository, so every text is escaped (html.escape for the page,
a Markdown escape of only what Markdown acts on for the .md). The HTML has
inline CSS only, no script, and a Content-Security-Policy that forbids any
fetch, so opening it never touches the network.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable
from pathlib import Path

from git_orch.errors import OrchError
from git_orch.report.board import Board, Card
from git_orch.sanitize import clean
from git_orch.workspace import reconcile


def heartbeat_line(board: Board) -> tuple[str, bool]:
    """Text about the latest heartbeat, and whether it is an alarm."""
    beat = board.overview.heartbeat
    if beat is None:
        return "no heartbeat recorded on this machine (git orch heartbeat)", False
    text = f"last heartbeat {reconcile.iso(beat.at)}, interval {beat.interval}s"
    if beat.missed(board.now):
        return f"MISSED: {text}", True
    return text, False


# --- Markdown ------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")


def md(text: object) -> str:
    """Text for a Markdown line or table cell: one line, no markup, no HTML, no entity.

    Only what Markdown would act on is escaped, so the file still reads well raw.
    """
    flat = clean(" ".join(str(text).split()))  # controls and bidi marks as visible escapes
    flat = _MD_SPECIAL.sub(r"\\\1", _MD_ENTITY.sub("&amp;", flat))
    return "\\" + flat if flat.startswith("#") else flat


def md_cmd(text: str) -> str:
    """A command as a code span (pasteable raw), or escaped text if a span cannot hold it."""
    return md(text) if "`" in text or "|" in text or "\n" in text else f"`{text}`"


def _md_task_rows(cards: list[Card], now: float) -> list[str]:
    out = ["| task | state | title | agent, last outcome | last activity | next |",
           "| --- | --- | --- | --- | --- | --- |"]
    for c in cards:
        agent = f"{c.agent}: {c.outcome}" if c.agent else ""
        out.append(f"| {md(c.task_id)} | {md(c.view.state.state)} | {md(c.view.contract.title)} "
                   f"| {md(agent)} | {md(reconcile.iso(c.view.last_activity) or '-')} "
                   f"| {md_cmd(c.next)} |")
    return out


def _md_card(c: Card) -> list[str]:
    st = c.view.state
    out = ["", f"### {md(c.task_id)}: {md(c.view.contract.title)}", "",
           f"- state: {md(st.state)}; branch {md(st.branch or '-')}; "
           f"workspace {md(c.workspace)}"]
    if c.agent:
        out.append(f"- agent {md(c.agent)}: {md(c.outcome)}")
    if c.sandbox_note:
        out.append(f"- {md(c.sandbox_note)}")
    if c.spend:
        out.append(f"- spent {md(c.spend)}")
    if st.summary:
        out.append(f"- handoff: {md(st.summary)}")
    out += [f"- risk: {md(r)}" for r in st.risks]
    if c.reason:
        out.append(f"- reason: {md(c.reason)}")
    out.append(f"- next: {md_cmd(c.next)}")
    return out


def render_markdown(board: Board) -> str:
    ov, now = board.overview, board.now
    counts = board.counts()
    out = ["# git-orch status", "",
           f"Generated {reconcile.iso(now)}; main branch {md(ov.policy.main_branch)}; "
           f"ledger {md((ov.ledger_tip or 'none')[:12])}.", "", md(board.summary()) + ".", ""]
    out += ["## Dispatch", "", f"Mode: {md(ov.dispatch.get('mode'))}"
            + (f" ({md(ov.dispatch['note'])})" if ov.dispatch.get("note") else "") + "; "
            + (f"next: {md(board.next_task)}" if board.next_task else "next starts nothing"), ""]
    out += [f"- {md(r)}" for r in board.next_reasons]
    out += [f"- agent breaker {md(n)}: {md(b['state'])} after {b['failures']} failures"
            + (f", until {md(b['until'])}" if b.get("until") else "")
            for n, b in board.breakers.items()]
    out += ["", f"## Needs you ({counts['needs_you']})", ""]
    if board.needs:
        out += ["| task | kind | why | fix |", "| --- | --- | --- | --- |"]
        out += [f"| {md(i.task or '-')} | {md(i.kind)} | {md(i.why)} | {md_cmd(i.fix)} |"
                for i in board.needs]
    else:
        out.append("Nothing needs you.")
    for title, key, cards, empty in (
            ("Running", "running", board.running, "Nothing running."),
            ("Open", "open", board.open, "Nothing open."),
            ("Recently ended", "ended", board.ended, "Nothing ended yet.")):
        out += ["", f"## {title} ({counts[key]})", ""]
        out += _md_task_rows(cards, now) if cards else [empty]
    if board.advisory:
        out += ["", f"Advisory isolation ({len(board.advisory)}): worktree workers share this "
                f"git dir and can write it: {md(', '.join(board.advisory))}"]
    if board.trust:
        out += ["", "## Trust (worst first)", ""] + [f"- {md(line)}" for line in board.trust]
    if board.attention:
        out += ["", "## Tasks"]
        for card in board.attention:
            out += _md_card(card)
    out += ["", "## Packages", "", "| package | progress | running | waiting | spent |",
            "| --- | --- | --- | --- | --- |"]
    out += [f"| {md(p.name)} | {md(p.progress)} | {p.running} | {p.waiting} "
            f"| {md(board.spend.get(p.name, '-'))} |" for p in board.packages]
    text, _ = heartbeat_line(board)
    out += ["", "## Heartbeat", "", md(text)]
    if ov.problems:
        out += ["", f"## Ledger problems ({len(ov.problems)})", ""]
        out += [f"- {md(p)}" for p in ov.problems[:20]]
    return "\n".join(out) + "\n"


# --- HTML ------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d1d1f;
padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;
margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;margin:.3em 0}
th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f5f5f7;font-weight:600}
.state{font-family:ui-monospace,monospace;font-size:.9em;white-space:nowrap}
.id{font-family:ui-monospace,monospace;font-weight:600}
.muted{color:#6e6e73}.alarm{color:#b00020;font-weight:600}
.needs h3{color:#b35900}.bar{background:#eee;height:.7em;border-radius:.35em;width:10em}
table.tasks{table-layout:fixed}table.tasks th:nth-child(1){width:15%}
table.tasks th:nth-child(2){width:17%}table.tasks th:nth-child(3){width:33%}
td{overflow-wrap:anywhere}.summary{font-size:1.05em}
.bar span{display:block;height:100%;background:#2e7d32;border-radius:.35em}
"""


def e(text: object) -> str:
    """HTML-escaped, with control and bidi characters shown as visible escapes."""
    return html.escape(clean(text), quote=True)


def _html_tasks(cards: list[Card]) -> str:
    head = ("<th>task</th><th>state</th><th>title</th><th>agent, last outcome</th>"
            "<th>last activity</th><th>next</th>")
    body = "".join(
        f'<tr class="task" data-task="{e(c.task_id)}" data-state="{e(c.view.state.state)}">'
        f'<td class="id">{e(c.task_id)}</td><td class="state">{e(c.view.state.state)}</td>'
        f"<td>{e(c.view.contract.title)}</td>"
        f"<td>{e(f'{c.agent}: {c.outcome}' if c.agent else '')}</td>"
        f"<td>{e(reconcile.iso(c.view.last_activity) or '-')}</td>"
        f"<td><code>{e(c.next)}</code></td></tr>"
        for c in cards)
    return f'<table class="tasks"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _html_needs(board: Board) -> str:
    if not board.needs:
        return '<p class="muted">Nothing needs you.</p>'
    body = "".join(
        f'<tr class="need" data-task="{e(i.task or "")}" data-kind="{e(i.kind)}">'
        f'<td class="id">{e(i.task or "-")}</td><td class="state">{e(i.kind)}</td>'
        f"<td>{e(i.why)}</td><td><code>{e(i.fix)}</code></td></tr>"
        for i in board.needs)
    return ('<table class="tasks"><thead><tr><th>task</th><th>kind</th><th>why</th>'
            f"<th>fix</th></tr></thead><tbody>{body}</tbody></table>")


def _html_card(c: Card) -> str:
    st = c.view.state
    rows = [("state", st.state), ("branch", st.branch or "-"),
            ("workspace", c.workspace)]
    if c.agent:
        rows.append(("agent", f"{c.agent}: {c.outcome}"))
    if c.sandbox_note:
        rows.append(("sandbox", c.sandbox_note))
    if c.spend:
        rows.append(("spent", c.spend))
    if st.summary:
        rows.append(("handoff", st.summary))
    rows += [("risk", r) for r in st.risks]
    if c.reason:
        rows.append(("reason", c.reason))
    items = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows)
    return (f'<div class="card" data-card="{e(c.task_id)}"><h3>{e(c.task_id)}: '
            f"{e(c.view.contract.title)}</h3><dl>{items}<dt>next</dt>"
            f"<dd><code>{e(c.next)}</code></dd></dl></div>")


def _section(key: str, title: str, inner: str, count: int | None = None) -> str:
    counted = f' data-count="{count}"' if count is not None else ""
    heading = f"{e(title)} ({count})" if count is not None else e(title)
    return f'<section id="{key}"{counted}><h2>{heading}</h2>{inner}</section>'


def render_html(board: Board) -> str:
    ov, counts = board.overview, board.counts()
    mode = e(ov.dispatch.get("mode")) + (f" ({e(ov.dispatch['note'])})"
                                         if ov.dispatch.get("note") else "")
    nxt = f"next: {e(board.next_task)}" if board.next_task else "next starts nothing"
    reasons = "".join(f"<li>{e(r)}</li>" for r in board.next_reasons)
    reasons += "".join(
        f"<li>agent breaker {e(n)}: {e(b['state'])} after {e(b['failures'])} failures"
        + (f", until {e(b['until'])}" if b.get("until") else "") + "</li>"
        for n, b in board.breakers.items())
    dispatch_html = f"<p>Mode: {mode}; {nxt}</p>" + (f"<ul>{reasons}</ul>" if reasons else "")
    sections = [_section("dispatch", "Dispatch", dispatch_html),
                _section("needs-you", "Needs you", _html_needs(board), counts["needs_you"])]
    for key, title, cards, empty in (
            ("running", "Running", board.running, "Nothing running."),
            ("open", "Open", board.open, "Nothing open."),
            ("ended", "Recently ended", board.ended, "Nothing ended yet.")):
        inner = _html_tasks(cards) if cards else f'<p class="muted">{empty}</p>'
        sections.append(_section(key, title, inner, counts[key]))
    if board.advisory:
        sections.append(_section(
            "isolation", "Advisory isolation",
            f"<p>Worktree workers share this git dir and can write it: "
            f"{e(', '.join(board.advisory))}</p>", len(board.advisory)))
    if board.trust:
        items = "".join(f"<li>{e(line)}</li>" for line in board.trust)
        sections.append(_section("trust", "Trust (worst first)", f"<ul>{items}</ul>"))
    if board.attention:
        sections.append(_section("tasks", "Tasks",
                                 "".join(_html_card(c) for c in board.attention)))
    pkg_rows = "".join(
        f'<tr class="package" data-package="{e(p.name)}"><td>{e(p.name)}</td>'
        f'<td><div class="bar" title="{p.percent}%"><span style="width:{p.percent}%"></span>'
        f"</div> {e(p.progress)}</td><td>{p.running}</td><td>{p.waiting}</td>"
        f"<td>{e(board.spend.get(p.name, '-'))}</td></tr>"
        for p in board.packages)
    pkg_html = ("<table><thead><tr><th>package</th><th>progress</th><th>running</th>"
                f"<th>waiting</th><th>spent</th></tr></thead><tbody>{pkg_rows}</tbody></table>"
                if pkg_rows else '<p class="muted">No tasks yet.</p>')
    sections.append(_section("packages", "Packages", pkg_html))
    beat, alarm = heartbeat_line(board)
    sections.append(_section("heartbeat", "Heartbeat",
                             f'<p class="{"alarm" if alarm else "muted"}">{e(beat)}</p>'))
    if ov.problems:
        items = "".join(f"<li>{e(p)}</li>" for p in ov.problems[:20])
        sections.append(_section("problems", "Ledger problems", f"<ul>{items}</ul>",
                                 len(ov.problems)))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>git-orch status</title><style>{_CSS}</style></head><body>"
        f"<h1>git-orch status</h1><p class=\"muted\">Generated {e(reconcile.iso(board.now))}; "
        f"main branch <code>{e(ov.policy.main_branch)}</code>; ledger "
        f"<code>{e((ov.ledger_tip or 'none')[:12])}</code></p>"
        f'<p class="summary" id="summary">{e(board.summary())}</p>'
        + "".join(sections) + "</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_pages(board: Board, out_dir: Path) -> list[Path]:
    """Write status.md and status.html into out_dir (atomically each); return the paths."""
    written = []
    renderers: list[tuple[str, Callable[[Board], str]]] = [
        ("status.md", render_markdown), ("status.html", render_html)]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, render in renderers:
            path = out_dir / name
            _write(path, render(board))
            written.append(path)
    except OSError as exc:
        raise OrchError(f"cannot write status pages into {out_dir}: {exc.strerror}") from None
    return written
