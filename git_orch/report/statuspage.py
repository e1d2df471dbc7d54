"""The status page: status.md and a self-contained status.html from one overview.

Both answer, in this order: what needs a person now, what is running, what
landed recently, progress per package, and the latest heartbeat. Everything
shown comes from the ledger or the repository, so every text is escaped
(html.escape for the page, a Markdown escape for the .md). The HTML has
inline CSS only, no script, and a Content-Security-Policy that forbids any
fetch, so opening it never touches the network.
"""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from git_orch.agent import runlog
from git_orch.errors import OrchError
from git_orch.judge.verdicts import tally
from git_orch.record.state import (
    ABANDONED,
    ACCEPTED,
    BLOCKED,
    CLEANED,
    ENDED,
    MERGED,
    PENDING,
    PUSHED,
    REJECTED,
    UNREVIEWED,
)
from git_orch.report import trust
from git_orch.report.status import Overview, TaskView
from git_orch.workspace import reconcile

PASSING_VERDICTS = frozenset({"pass", "passed", "accept", "accepted", "ok"})
LANDED = frozenset({MERGED, PUSHED, CLEANED})
RECENT = 10


@dataclass
class Group:
    """One list of tasks under a heading, with why each is there."""

    key: str
    title: str
    rows: list[tuple[TaskView, str]] = field(default_factory=list)

    def add(self, view: TaskView, why: str) -> None:
        self.rows.append((view, why))


def _review_problem(view: TaskView) -> str | None:
    st = view.state
    head = view.head or (st.review.get("head") if st.review else None)
    on_head = tally(st, str(head)) if head else None
    if on_head is not None and on_head.verdict in ("reject", "concerns"):
        return "review verdict: " + "; ".join(
            f"{v['verdict']} by {v['reviewer']}" for v in on_head.to_json()["verdicts"]
            if v["verdict"] != "pass")
    verdict = st.review.get("verdict") if st.review else None
    if isinstance(verdict, str) and verdict.strip().lower() not in PASSING_VERDICTS:
        return f"review verdict: {verdict}"
    if st.state == REJECTED:
        return f"rejected: {st.reason or 'no reason given'}"
    return None


def needs_groups(overview: Overview) -> list[Group]:
    groups = [
        Group("review-queue", "Review queue"),
        Group("ready-to-land", "Accepted, ready to land"),
        Group("blocked", "Blocked"),
        Group("rejected", "Rejected reviews and overclaims"),
        Group("stale", "Stale: needs inspection"),
        Group("cleanup", "Cleanup needed"),
        Group("dirty", "Uncommitted changes after handoff"),
        Group("conflicts", "Conflicts and ledger problems"),
        Group("orphaned", "Worktree vanished"),
        Group("setup-failed", "Setup failed"),
        Group("run-failed", "Agent run failed"),
        Group("target", "Target branch rewritten or bypassed"),
    ]
    by_key = {g.key: g for g in groups}
    for view in overview.tasks:
        st = view.state
        if st.state == UNREVIEWED:
            by_key["review-queue"].add(view, _handed_off_why(view))
        if st.state == ACCEPTED:
            by_key["ready-to-land"].add(view, f"git orch land {view.task_id}")
        if st.state == BLOCKED:
            by_key["blocked"].add(view, st.reason or "no reason given")
        problem = _review_problem(view)
        if problem is not None and st.state not in ENDED:
            by_key["rejected"].add(view, problem)
        if reconcile.STALE in view.flags:
            by_key["stale"].add(view, f"last activity {_age(view.last_activity)}")
        if reconcile.CLEANUP in view.flags:
            by_key["cleanup"].add(view, "worktree or branch still there (heartbeat --repair)")
        if reconcile.DIRTY in view.flags and st.state not in reconcile.RUNNING_STATES:
            by_key["dirty"].add(view, f"{st.worktree} has changes no review saw")
        if reconcile.CONFLICT in view.flags or reconcile.LEDGER_PROBLEM in view.flags:
            by_key["conflicts"].add(view, "; ".join([*st.conflicts, *view.problems][:3]))
        if reconcile.ORPHAN in view.flags:
            by_key["orphaned"].add(view, f"{st.worktree} is gone (heartbeat --repair)")
        if st.state == PENDING and st.error:
            by_key["setup-failed"].add(view, st.error)
        failed_run = runlog.failed_last_run(st)
        if failed_run is not None:
            run = runlog.latest_run_json(st) or {}
            by_key["run-failed"].add(view, f"{failed_run}: {run.get('reason') or ''}")
    views = {v.task_id: v for v in overview.tasks}
    for finding in overview.target:  # the target branch, shown on the task it concerns
        concerned = views.get(finding.task or finding.landed_by or "")
        if concerned is not None:
            by_key["target"].add(concerned, finding.render())
    return [g for g in groups if g.rows]


def _handed_off_why(view: TaskView) -> str:
    """The handoff summary, and beside it the start of what the agent said, if it ran."""
    said = runlog.agent_said(view.state)
    text = view.state.summary or ""
    if said is not None:
        words = " ".join(said["text"].split())
        text += (" | " if text else "") + f"agent said: {words[:300]}"
        text += "..." if len(words) > 300 else ""
    return text


def running(overview: Overview) -> list[TaskView]:
    return [v for v in overview.tasks if v.state.state in reconcile.RUNNING_STATES]


def landed(overview: Overview) -> list[TaskView]:
    done = [v for v in overview.tasks if v.state.state in LANDED]
    done.sort(key=lambda v: v.state.activity_at or v.state.updated_at or "", reverse=True)
    return done[:RECENT]


@dataclass
class PackageRow:
    name: str
    total: int
    landed: int
    running: int
    waiting: int
    abandoned: int

    @property
    def percent(self) -> int:
        counted = self.total - self.abandoned
        return round(100 * self.landed / counted) if counted else 100


def packages(overview: Overview) -> list[PackageRow]:
    rows: dict[str, PackageRow] = {}
    for view in overview.tasks:
        name = view.contract.package or "(no package)"
        row = rows.setdefault(name, PackageRow(name, 0, 0, 0, 0, 0))
        row.total += 1
        state = view.state.state
        if state in LANDED:
            row.landed += 1
        elif state == ABANDONED:
            row.abandoned += 1
        elif state in reconcile.RUNNING_STATES:
            row.running += 1
        else:
            row.waiting += 1
    return [rows[k] for k in sorted(rows)]


def _age(stamp: float | None, now: float | None = None) -> str:
    if stamp is None:
        return "-"
    seconds = max(0, int((now or time.time()) - stamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def heartbeat_line(overview: Overview) -> tuple[str, bool]:
    """Text about the latest heartbeat, and whether it is an alarm."""
    beat = overview.heartbeat
    if beat is None:
        return "no heartbeat recorded on this machine (git orch heartbeat)", False
    when = reconcile.iso(beat.at)
    text = f"last heartbeat {when} ({_age(beat.at)}), interval {beat.interval}s"
    if beat.missed():
        return f"MISSED: {text}", True
    return text, False


def summary_line(overview: Overview) -> str:
    waiting = {v.task_id for g in needs_groups(overview) for v, _ in g.rows}
    return (f"{len(waiting)} task(s) need you, {len(running(overview))} running, "
            f"{len([v for v in overview.tasks if v.state.state in LANDED])} landed, "
            f"{len(overview.orphans)} orphan(s)")


# --- Markdown ------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md(text: object) -> str:
    """Escape text for a Markdown table cell or line: no markup, no HTML, one line."""
    flat = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", flat.replace("&", "&amp;"))


def _md_table(rows: list[tuple[TaskView, str]]) -> list[str]:
    out = ["| task | state | title | why |", "| --- | --- | --- | --- |"]
    for view, why in rows:
        out.append(f"| {md(view.task_id)} | {md(view.state.state)} | "
                   f"{md(view.contract.title)} | {md(why)} |")
    return out


def render_markdown(overview: Overview) -> str:
    now = time.time()
    out = ["# git-orch status", "",
           f"Generated {reconcile.iso(now)}; main branch {md(overview.policy.main_branch)}.", "",
           md(summary_line(overview)) + ".", ""]
    groups = needs_groups(overview)
    out.append("## Needs you")
    if not groups and not overview.orphans and not overview.packages_due:
        out.append("")
        out.append("Nothing needs you.")
    for group in groups:
        out += ["", f"### {group.title} ({len(group.rows)})", ""] + _md_table(group.rows)
    if overview.packages_due:
        out += ["", f"### Package review due ({len(overview.packages_due)})", ""]
        out += [f"- package {md(d['package'])} closed: review pack due "
                f"(`git orch review --package {md(d['package'])} --pack DIR`)"
                for d in overview.packages_due]
    if overview.orphans:
        out += ["", f"### Orphans ({len(overview.orphans)})", ""]
        out += [f"- {md(o.kind)} {md(o.name)}: {md(o.detail)}" for o in overview.orphans]
    out += ["", "## Running", ""]
    run = running(overview)
    out += _md_table([(v, f"last activity {_age(v.last_activity, now)}") for v in run]) \
        if run else ["Nothing running."]
    out += ["", "## Landed recently", ""]
    done = landed(overview)
    out += _md_table([(v, (v.state.merged_commit or "")[:12]) for v in done]) \
        if done else ["Nothing landed yet."]
    out += ["", "## Packages", "",
            "| package | landed | running | waiting | abandoned | progress |",
            "| --- | --- | --- | --- | --- | --- |"]
    for row in packages(overview):
        out.append(f"| {md(row.name)} | {row.landed}/{row.total} | {row.running} | "
                   f"{row.waiting} | {row.abandoned} | {row.percent}% |")
    trust_lines = trust.render_lines(overview.trust)
    if trust_lines:
        out += ["", "## Trust (worst first)", ""] + [f"- {md(line)}" for line in trust_lines]
    text, _ = heartbeat_line(overview)
    out += ["", "## Heartbeat", "", md(text)]
    if overview.problems:
        out += ["", "## Ledger problems", ""] + [f"- {md(p)}" for p in overview.problems[:20]]
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
    return html.escape(str(text), quote=True)


def _html_table(rows: list[tuple[TaskView, str]], last: str = "why") -> str:
    body = "".join(
        f'<tr class="task" data-task="{e(v.task_id)}" data-state="{e(v.state.state)}">'
        f'<td class="id">{e(v.task_id)}</td><td class="state">{e(v.state.state)}</td>'
        f"<td>{e(v.contract.title)}</td><td>{e(why)}</td></tr>"
        for v, why in rows
    )
    head = f"<th>task</th><th>state</th><th>title</th><th>{e(last)}</th>"
    return (f'<table class="tasks"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _section(key: str, title: str, inner: str, extra_class: str = "") -> str:
    cls = f' class="{extra_class}"' if extra_class else ""
    return f'<section id="{key}"{cls}><h2>{e(title)}</h2>{inner}</section>'


def render_html(overview: Overview) -> str:
    now = time.time()
    groups = needs_groups(overview)
    needs = "".join(
        f'<div class="group" id="{g.key}"><h3>{e(g.title)} ({len(g.rows)})</h3>'
        f"{_html_table(g.rows)}</div>"
        for g in groups
    )
    if overview.packages_due:
        items = "".join(f"<li>package <b>{e(d['package'])}</b> closed: review pack due "
                        f"(<code>git orch review --package {e(d['package'])} --pack DIR</code>)"
                        "</li>" for d in overview.packages_due)
        needs += (f'<div class="group" id="packages-due"><h3>Package review due '
                  f"({len(overview.packages_due)})</h3><ul>{items}</ul></div>")
    if overview.orphans:
        items = "".join(f"<li><b>{e(o.kind)}</b> <code>{e(o.name)}</code>: {e(o.detail)}</li>"
                        for o in overview.orphans)
        needs += (f'<div class="group" id="orphans"><h3>Orphans ({len(overview.orphans)})</h3>'
                  f"<ul>{items}</ul></div>")
    if not needs:
        needs = '<p class="muted">Nothing needs you.</p>'
    run = running(overview)
    run_html = _html_table([(v, _age(v.last_activity, now)) for v in run], "last activity") \
        if run else '<p class="muted">Nothing running.</p>'
    done = landed(overview)
    done_html = _html_table([(v, (v.state.merged_commit or "")[:12]) for v in done], "commit") \
        if done else '<p class="muted">Nothing landed yet.</p>'
    pkg_rows = "".join(
        f'<tr class="package" data-package="{e(r.name)}"><td>{e(r.name)}</td>'
        f"<td>{r.landed}/{r.total}</td><td>{r.running}</td><td>{r.waiting}</td>"
        f'<td>{r.abandoned}</td><td><div class="bar" title="{r.percent}%">'
        f'<span style="width:{r.percent}%"></span></div> {r.percent}%</td></tr>'
        for r in packages(overview)
    )
    pkg_html = (
        "<table><thead><tr><th>package</th><th>landed</th><th>running</th><th>waiting</th>"
        f"<th>abandoned</th><th>progress</th></tr></thead><tbody>{pkg_rows}</tbody></table>"
    ) if pkg_rows else '<p class="muted">No tasks yet.</p>'
    beat, alarm = heartbeat_line(overview)
    summary = summary_line(overview)
    beat_html = f'<p class="{"alarm" if alarm else "muted"}">{e(beat)}</p>'
    trust_lines = trust.render_lines(overview.trust)
    trust_html = _section("trust", "Trust (worst first)", "<ul>" + "".join(
        f"<li>{e(line)}</li>" for line in trust_lines) + "</ul>") if trust_lines else ""
    problems = ""
    if overview.problems:
        items = "".join(f"<li>{e(p)}</li>" for p in overview.problems[:20])
        problems = _section("problems", "Ledger problems", f"<ul>{items}</ul>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>git-orch status</title><style>{_CSS}</style></head><body>"
        f"<h1>git-orch status</h1><p class=\"muted\">Generated {e(reconcile.iso(now))}; "
        f"main branch <code>{e(overview.policy.main_branch)}</code>; ledger "
        f"<code>{e((overview.ledger_tip or 'none')[:12])}</code></p>"
        f'<p class="summary" id="summary">{e(summary)}</p>'
        + _section("needs-you", "Needs you", needs, "needs")
        + _section("running", "Running", run_html)
        + _section("landed", "Landed recently", done_html)
        + _section("packages", "Packages", pkg_html)
        + _section("heartbeat", "Heartbeat", beat_html)
        + trust_html
        + problems
        + "</body></html>\n"
    )


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_pages(overview: Overview, out_dir: Path) -> list[Path]:
    """Write status.md and status.html into out_dir (atomically each); return the paths."""
    written = []
    renderers: list[tuple[str, Callable[[Overview], str]]] = [
        ("status.md", render_markdown), ("status.html", render_html)]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, render in renderers:
            path = out_dir / name
            _write(path, render(overview))
            written.append(path)
    except OSError as exc:
        raise OrchError(f"cannot write status pages into {out_dir}: {exc.strerror}") from None
    return written
