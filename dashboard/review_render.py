"""The weekly review as Markdown, as an HTML e-mail and as a Slack message.

Pure functions from a ``Review`` (and the ``Links`` to use) to text; only the
e-mail renders a Jinja template, so it needs an app context. Every string from
a report is untrusted: Markdown puts test names and messages in code spans
(backticks inside handled by a longer fence) and escapes everything else, HTML
escapes through Jinja's autoescaping, Slack through its three entities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask import current_app, render_template, url_for

from dashboard.analytics.diagnosis import AntiPattern
from dashboard.analytics.review import (
    RECOVERY_MIN_EXECUTIONS,
    Figure,
    FlakyItem,
    QuarantineItem,
    Review,
)
from dashboard.owners import CaseRef

# --- links -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Links:
    """URLs of the pages a review points to: relative on the page, absolute elsewhere.

    Absolute links start with ``SUITESCOPE_BASE_URL`` when it is set, else with
    the request's host (as upload replies do). Needs a request context.
    """

    slug: str
    absolute: bool = True

    @classmethod
    def for_page(cls, slug: str) -> Links:
        return cls(slug, absolute=False)

    def url(self, endpoint: str, **values) -> str:
        if not self.absolute:
            return url_for(endpoint, **values)
        base = current_app.config.get("SUITESCOPE_BASE_URL")
        if base:
            return base + url_for(endpoint, **values)
        return url_for(endpoint, _external=True, **values)

    def review(self, week: str | None = None) -> str:
        return self.url("ui.review", slug=self.slug, week=week)

    def markdown(self, week: str | None = None) -> str:
        return self.url("ui.review_markdown", slug=self.slug, week=week)

    def api(self, week: str | None = None) -> str:
        return self.url("api.project_review", slug=self.slug, week=week)

    def test(self, case_id: int) -> str:
        return self.url("ui.test_history", slug=self.slug, case_id=case_id)

    def run(self, run_id: int) -> str:
        return self.url("ui.run_detail", slug=self.slug, run_id=run_id)


# --- numbers as people read them -------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def fmt_value(figure: Figure, value: float | None) -> str:
    if value is None:
        return "—"
    if figure.kind == "rate":
        return fmt_rate(value)
    if figure.kind == "seconds":
        return fmt_seconds(value)
    return str(int(value))


def fmt_change(figure: Figure) -> str:
    change = figure.change
    if change is None:
        return "—"
    if change == 0:
        return "unchanged"
    if figure.kind == "rate":
        return f"{change * 100:+.1f} pts"
    if figure.kind == "seconds":
        sign = "+" if change > 0 else "-"
        return sign + fmt_seconds(abs(change))
    return f"{int(change):+d}"


def count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


# --- Markdown --------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Punctuation with a meaning anywhere in a line; a backslash makes each literal.
# Pipes are left to ``md_row``: escaping them twice would end the table cell.
_INLINE_PUNCTUATION = re.compile(r"([\\`*_\[\]~])")
# What a line may start with to become a heading, a list or a rule.
_BLOCK_MARKER = re.compile(r"^([#+=-])")
_ORDERED_MARKER = re.compile(r"^(\d+)([.)])")
_BACKTICKS = re.compile(r"`+")


def one_line(text: object) -> str:
    """Control characters dropped and whitespace runs (newlines too) made one space."""
    return _WHITESPACE.sub(" ", _CONTROL.sub("", str(text))).strip()


def md_text(text: object) -> str:
    """Report text as literal Markdown: punctuation escaped, HTML neutralised."""
    escaped = _INLINE_PUNCTUATION.sub(r"\\\1", one_line(text))
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _BLOCK_MARKER.sub(r"\\\1", escaped)
    return _ORDERED_MARKER.sub(r"\1\\\2", escaped)


def md_code(text: object) -> str:
    """A code span around ``text``, whatever backticks it holds (CommonMark: a fence
    longer than any backtick run inside, padded when the text starts or ends with one).
    HTML inside a code span is shown, never interpreted."""
    content = one_line(text)
    if not content:
        return ""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    fence = "`" * (longest + 1)
    if content.startswith("`") or content.endswith("`"):
        content = f" {content} "
    return f"{fence}{content}{fence}"


def md_link(label: str, url: str) -> str:
    """``label`` is Markdown already (escaped text or a code span); ``url`` is ours."""
    return f"[{label}]({url})"


def md_row(cells: Iterable[str]) -> str:
    # GitHub splits table cells on pipes before reading code spans, so a pipe
    # anywhere in a cell (code spans included) must be escaped.
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    align = ["---:" if index in numeric else "---" for index in range(len(headers))]
    lines = [md_row(headers), md_row(align), *(md_row(row) for row in rows)]
    return "\n".join(lines)


def md_owners(case: CaseRef) -> str:
    return ", ".join(md_text(owner) for owner in case.owners) or "—"


def md_test(case: CaseRef, links: Links) -> str:
    return md_link(md_code(case.display_name), links.test(case.case_id))


def md_run(run_id: int | None, links: Links) -> str:
    return md_link(f"run {run_id}", links.run(run_id)) if run_id is not None else "—"


def md_runs(run_ids: Sequence[int], links: Links) -> str:
    return ", ".join(md_run(run_id, links) for run_id in run_ids) or "—"


def review_markdown(review: Review, links: Links) -> str:
    """The whole review as GitHub-flavoured Markdown (also pastes into Confluence)."""
    sections = [
        _md_title(review, links),
        _md_headline(review),
        _md_section("Newly flaky", review.new_flaky, _md_flaky_table(review.new_flaky, links)),
        _md_section("Recovered", review.recovered, _md_recovered(review, links)),
        _md_section("Newly failing", review.new_failing, _md_failing(review, links)),
        _md_section(
            "The flaky tests that cost most", review.top_flaky, _md_top_flaky(review, links)
        ),
        _md_section("Duration regressions", review.regressions, _md_regressions(review, links)),
        _md_coverage(review),
        _md_quarantine(review, links),
        _md_anti_patterns(review, links),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _md_title(review: Review, links: Links) -> str:
    week = review.week
    lines = [
        f"# Weekly review: {md_text(review.project.name)}, {week.label}",
        "",
        f"{week.monday:%A %d %B %Y} to {week.sunday:%A %d %B %Y} ({md_text(week.zone.key)}) · "
        f"{count(review.runs, 'run')} · {md_link('open in Suitescope', links.review(week.label))}",
    ]
    lines += [f"\n> {note}" for note in notes(review)]
    return "\n".join(lines)


def notes(review: Review, *, with_empty: bool = True) -> list[str]:
    """Sentences that qualify the whole review (shared by every format); HTML shows
    an empty state of its own for a week without runs (``with_empty=False``)."""
    found = []
    if not review.complete:
        found.append("This week is still in progress: the figures cover it up to now.")
    if review.runs == 0:
        if with_empty:
            found.append("No runs were reported in this week.")
    elif review.first_week:
        found.append("This is the project's first week of runs: there is no earlier week.")
    return found


def _md_headline(review: Review) -> str:
    figures = md_table(
        ("Figure", "This week", "Previous week", "Change"),
        (
            (md_text(f.label), fmt_value(f, f.value), fmt_value(f, f.previous), fmt_change(f))
            for f in review.headline.figures
        ),
        numeric={1, 2, 3},
    )
    parts = ["## Headline", figures]
    if review.headline.wall_time:
        parts.append("Suite wall time per job:")
        parts.append(
            md_table(
                ("Job", "Runs", "Median", "p95", "Median before", "p95 before"),
                (
                    (
                        md_code(row.job),
                        str(row.runs),
                        fmt_seconds(row.median_s),
                        fmt_seconds(row.p95_s),
                        fmt_seconds(row.previous_median_s),
                        fmt_seconds(row.previous_p95_s),
                    )
                    for row in review.headline.wall_time
                ),
                numeric={1, 2, 3, 4, 5},
            )
        )
    return "\n\n".join(parts)


def _md_section(title: str, items: Sequence, body: str) -> str:
    heading = f"## {title} ({len(items)})"
    return f"{heading}\n\n{body if items else 'None this week.'}"


def _md_flaky_table(items: Sequence[FlakyItem], links: Links) -> str:
    return md_table(
        ("Test", "Owners", "Why", "Flake rate", "First flaky run"),
        (
            (
                md_test(item.case, links),
                md_owners(item.case),
                md_text(item.why),
                fmt_rate(item.flake_rate),
                md_run(item.first_flake_run_id, links),
            )
            for item in items
        ),
        numeric={3},
    )


def _md_recovered(review: Review, links: Links) -> str:
    return md_table(
        ("Test", "Owners", "Clean runs this week", "Last flaky run", "Was"),
        (
            (
                md_test(item.case, links),
                md_owners(item.case),
                str(item.executions),
                md_run(item.last_flake_run_id, links),
                md_text(item.why_before),
            )
            for item in review.recovered
        ),
        numeric={2},
    )


def _md_failing(review: Review, links: Links) -> str:
    return md_table(
        ("Test", "Owners", "Job", "First failure", "Latest message"),
        (
            (
                md_test(item.case, links),
                md_owners(item.case),
                md_code(item.job) if item.job else "—",
                md_run(item.first_failure_run_id, links),
                md_code(item.message) if item.message else "—",
            )
            for item in review.new_failing
        ),
        numeric=set(),
    )


def _md_top_flaky(review: Review, links: Links) -> str:
    return md_table(
        ("#", "Test", "Owners", "Runs disrupted", "CI time lost", "Flake rate", "Evidence"),
        (
            (
                str(rank),
                md_test(item.case, links),
                md_owners(item.case),
                str(item.runs_disrupted),
                fmt_seconds(item.ci_seconds_lost),
                fmt_rate(item.flake_rate),
                "; ".join(f"{md_text(e.detail)} ({md_run(e.run_id, links)})" for e in item.evidence)
                or "—",
            )
            for rank, item in enumerate(review.top_flaky, start=1)
        ),
        numeric={0, 3, 4, 5},
    )


def _md_regressions(review: Review, links: Links) -> str:
    return md_table(
        ("Test", "Owners", "Median before → last 7 days", "Change", "Slow since"),
        (
            (
                md_test(item.case, links),
                md_owners(item.case),
                f"{fmt_seconds(item.baseline_median_s)} → {fmt_seconds(item.recent_median_s)}",
                f"{item.change_pct:+.0f}%",
                md_run(item.first_slow_run_id, links),
            )
            for item in review.regressions
        ),
        numeric={2, 3},
    )


def _md_coverage(review: Review) -> str:
    movers = review.coverage_movers
    branch = md_text(review.project.default_branch)
    heading = "## Coverage movers"
    if movers.from_run_id is None or movers.to_run_id is None:
        return f"{heading}\n\nNo {branch} coverage report in both this week and the week before."
    if not movers.drops and not movers.gains:
        return f"{heading}\n\nNo file's branch coverage changed on {branch}."
    parts = [heading]
    for title, deltas in (("Largest drops", movers.drops), ("Largest gains", movers.gains)):
        if deltas:
            parts.append(f"{title}:")
            parts.append(
                md_table(
                    ("File", "Branch coverage before → now", "Change"),
                    (
                        (
                            md_code(d.path),
                            f"{fmt_rate(d.old_branch_rate)} → {fmt_rate(d.new_branch_rate)}",
                            f"{(d.delta_branch_rate or 0) * 100:+.1f} pts",
                        )
                        for d in deltas
                    ),
                    numeric={1, 2},
                )
            )
    return "\n\n".join(parts)


def _md_quarantine(review: Review, links: Links) -> str:
    debt = review.quarantine
    parts = [f"## Quarantine debt ({len(debt.active)} active, {len(debt.expired)} expired)"]
    if not debt.active and not debt.expired:
        parts.append("No test is quarantined.")
    for title, items in (("Quarantined", debt.active), ("Expired, not lifted", debt.expired)):
        if items:
            parts.append(f"{title}:")
            parts.append(_md_quarantine_table(items, links))
    return "\n\n".join(parts)


def _md_quarantine_table(items: Sequence[QuarantineItem], links: Links) -> str:
    return md_table(
        ("Test", "Owners", "Age", "Reason", "By", "Expires"),
        (
            (
                md_test(item.case, links),
                md_owners(item.case),
                count(item.age_days, "day"),
                md_text(item.reason),
                md_text(item.created_by) or "—",
                f"{item.expires_at:%Y-%m-%d}" if item.expires_at else "never",
            )
            for item in items
        ),
        numeric={2},
    )


def _md_anti_patterns(review: Review, links: Links) -> str:
    heading = f"## Anti-patterns ({len(review.anti_patterns)})"
    if not review.anti_patterns:
        return (
            f"{heading}\n\nNone of the testing chapter's anti-patterns shows in this week's data."
        )
    return "\n\n".join([heading, *(_md_anti_pattern(p, links) for p in review.anti_patterns)])


def _md_anti_pattern(pattern: AntiPattern, links: Links) -> str:
    parts = [
        f"### {md_text(pattern.title)}",
        md_text(pattern.summary),
        f"**Remedy:** {md_text(pattern.remedy)}",
    ]
    if pattern.cases:
        parts.append(
            md_table(
                ("Test", "Owners", "Failures", "Why", "Runs", "Latest message"),
                (
                    (
                        md_test(f.case, links),
                        md_owners(f.case),
                        str(f.failures),
                        md_text(", ".join(f.reasons)),
                        md_runs(f.run_ids, links),
                        md_code(f.message) if f.message else "—",
                    )
                    for f in pattern.cases
                ),
                numeric={2},
            )
        )
    if pattern.suites:
        parts.append(
            md_table(
                (
                    "Job",
                    "Runs",
                    "Median wall time",
                    "Outside test cases",
                    "2 / 4 / 8 workers",
                    "Runs",
                ),
                (
                    (
                        md_code(s.job),
                        str(s.runs),
                        fmt_seconds(s.wall_seconds),
                        f"{fmt_seconds(s.outside_seconds)} ({fmt_rate(s.outside_share)})",
                        estimate_text(s.estimate),
                        md_runs(s.run_ids, links),
                    )
                    for s in pattern.suites
                ),
                numeric={1, 2, 3},
            )
        )
    if pattern.files:
        parts.append(
            md_table(
                ("File", "Branch coverage", "Uncovered branches"),
                (
                    (
                        md_code(f.path),
                        fmt_rate(f.branch_rate),
                        f"{f.missing_branches} of {f.branches_valid}",
                    )
                    for f in pattern.files
                ),
                numeric={1, 2},
            )
        )
    return "\n\n".join(parts)


def estimate_text(estimate: dict[int, float]) -> str:
    shown = [fmt_seconds(estimate[n]) for n in (2, 4, 8) if n in estimate]
    return " / ".join(shown) or "—"


# --- e-mail ----------------------------------------------------------------------------


def email_subject(review: Review) -> str:
    return one_line(
        f"Weekly review of {review.project.name}, {review.week.label}: "
        f"{count(len(review.new_flaky), 'newly flaky test')}, "
        f"{count(len(review.new_failing), 'newly failing test')}"
    )


def template_context(review: Review, links: Links) -> dict:
    """What ``_review_body.html`` needs, on the page and in the e-mail."""
    return {
        "review": review,
        "project": review.project,
        "links": links,
        "review_notes": notes(review, with_empty=False),
        "recovery_min": RECOVERY_MIN_EXECUTIONS,
    }


def review_email_html(review: Review, links: Links) -> str:
    """A standalone HTML document (the page's sections, absolute links, inline styles)."""
    return render_template("review_email.html", **template_context(review, links))


# --- Slack -----------------------------------------------------------------------------

SLACK_TEXT_LIMIT = 3000  # characters in one section block
SLACK_HEADER_LIMIT = 150
SLACK_NAMES_SHOWN = 5
MODIFIER_GRAVE = "\u02cb"  # looks like a backtick, does not end a code span


def slack_escape(text: object) -> str:
    """Slack's mrkdwn gives meaning to &, < and > only (links, mentions)."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_code(text: object) -> str:
    # Slack has no escape for a backtick inside code: a look-alike keeps the span whole.
    return f"`{slack_escape(text).replace('`', MODIFIER_GRAVE)}`"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_names(title: str, cases: Sequence[CaseRef]) -> str:
    names = ", ".join(slack_code(c.display_name) for c in cases[:SLACK_NAMES_SHOWN])
    more = len(cases) - SLACK_NAMES_SHOWN
    return f"*{title}* ({len(cases)}): {names}" + (f" and {more} more" if more > 0 else "")


def review_slack(review: Review, links: Links) -> dict:
    """A Slack (or compatible) incoming-webhook message: ``text`` for notifications and
    clients without blocks, ``blocks`` for the summary, with a link to the page."""
    url = links.review(review.week.label)
    name = slack_escape(review.project.name)
    lines = [
        _slack_names(title, cases)
        for title, cases in (
            ("Newly flaky", [i.case for i in review.new_flaky]),
            ("Newly failing", [i.case for i in review.new_failing]),
            ("Recovered", [i.case for i in review.recovered]),
        )
        if cases
    ]
    lines += [
        f"*Costliest flaky test:* {slack_code(item.case.display_name)}, "
        f"{count(item.runs_disrupted, 'run')} disrupted, {fmt_seconds(item.ci_seconds_lost)} lost"
        for item in review.top_flaky[:1]
    ]
    lines.append(
        f"*Duration regressions:* {len(review.regressions)} · *Quarantined:* "
        f"{len(review.quarantine.active)} active, {len(review.quarantine.expired)} expired"
    )
    patterns = ", ".join(slack_escape(p.title) for p in review.anti_patterns) or "none"
    lines.append(f"*Anti-patterns:* {patterns}")
    fields = [
        {
            "type": "mrkdwn",
            "text": f"*{slack_escape(f.label)}*\n{fmt_value(f, f.value)} ({fmt_change(f)})",
        }
        for f in review.headline.figures
    ]
    notes_text = " ".join(slack_escape(note) for note in notes(review))
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(
                    one_line(f"Weekly review · {review.project.name} · {review.week.label}"),
                    SLACK_HEADER_LIMIT,
                ),
            },
        },
        {"type": "section", "fields": fields[:10]},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _truncate("\n".join(lines), SLACK_TEXT_LIMIT)},
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open the review"},
                    "url": url,
                }
            ],
        },
    ]
    if notes_text:
        blocks.insert(1, {"type": "context", "elements": [{"type": "mrkdwn", "text": notes_text}]})
    text = (
        f"Weekly review of {name}, {review.week.label}: {count(review.runs, 'run')}, "
        f"{fmt_rate(review.headline.figure('pass_rate').value)} passed, "
        f"{len(review.new_flaky)} newly flaky, {len(review.new_failing)} newly failing. "
        f"<{url}|Open the review>"
    )
    return {"text": text, "blocks": blocks}
