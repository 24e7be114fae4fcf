"""Coverage over time and per file (design.md, Definitions, "Coverage").

* **Line rate** = lines covered ÷ lines valid; **branch rate** = branches covered
  ÷ branches valid. A rate is ``None`` when there is nothing to divide: a report
  whose format records no branches (``branches_valid`` NULL), or a file with no
  branches (``0``) or no lines. ``None`` is shown as "no branch data" or "—",
  never as 0%.
* **Branch**: the scope's branch, or the project's default branch when the
  scope has none (coverage of "all branches at once" means nothing).
* **Latest run**: the latest run of that branch in the window with a coverage
  report. **Previous run**: the one before it on the same branch *and job*, so
  that a matrix whose jobs cover different code never compares one job with
  another. **Default-branch baseline**: the latest run of the default branch in
  the window with coverage, of the same job when it has one, else of any job;
  none when the branch *is* the default branch.
* **Deltas** are differences of rates (0.05 = 5 points); ``None`` whenever
  either side has no rate, or the file did not exist on that side.

Every look-up stays inside the scope's window and starts from the runs index
(project, started_at / branch, job, started_at). The per-file table is one
query whatever the number of files: the latest report's files left-joined to
the previous and baseline reports' files on path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import Select, and_, case, null, select
from sqlalchemy.orm import aliased, contains_eager, selectinload

from dashboard.analytics import rollups
from dashboard.analytics.scope import Scope
from dashboard.extensions import db
from dashboard.models import CoverageFile, CoverageReport, Run

FileStatus = Literal["added", "removed", "changed", "unchanged"]
TreeSize = Literal["lines", "branches"]
TREE_ROOT_ID = "/"
TREE_ROOT_LABEL = "all files"


# --- pure helpers ---------------------------------------------------------------


def rate(covered: int | None, valid: int | None) -> float | None:
    """covered ÷ valid, or None when there is nothing to cover (or no data at all)."""
    if not valid:
        return None
    return (covered or 0) / valid


def rate_delta(new: float | None, old: float | None) -> float | None:
    """new - old, or None when either side has no rate."""
    if new is None or old is None:
        return None
    return new - old


def missing(covered: int | None, valid: int | None) -> int | None:
    """Uncovered items; None (not 0) when the format gave no count at all."""
    if valid is None:
        return None
    return valid - (covered or 0)


class FileCounts(Protocol):
    """What the helpers need of a file: ``CoverageFile`` and ``FileCoverage`` both fit."""

    path: str
    lines_valid: int
    lines_covered: int
    branches_valid: int | None
    branches_covered: int | None


# --- per run ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    """One run's coverage totals."""

    run_id: int
    commit: str | None
    branch: str | None
    started_at: datetime
    line_rate: float | None
    branch_rate: float | None
    lines_valid: int
    lines_covered: int
    branches_valid: int | None
    branches_covered: int | None
    job: str
    report_id: int

    @property
    def has_branch_data(self) -> bool:
        return self.branches_valid is not None


@dataclass(frozen=True, slots=True)
class CoverageSummary:
    """The latest run of a branch with what it is compared against."""

    branch: str
    latest: CoveragePoint | None
    previous: CoveragePoint | None = None
    baseline: CoveragePoint | None = None

    @property
    def delta_line_rate(self) -> float | None:
        return _point_delta(self.latest, self.previous, "line_rate")

    @property
    def delta_branch_rate(self) -> float | None:
        return _point_delta(self.latest, self.previous, "branch_rate")

    @property
    def delta_line_vs_default(self) -> float | None:
        return _point_delta(self.latest, self.baseline, "line_rate")

    @property
    def delta_branch_vs_default(self) -> float | None:
        return _point_delta(self.latest, self.baseline, "branch_rate")


def _point_delta(new: CoveragePoint | None, old: CoveragePoint | None, name: str) -> float | None:
    if new is None or old is None:
        return None
    return rate_delta(getattr(new, name), getattr(old, name))


def coverage_branch(scope: Scope) -> str:
    """The branch coverage is shown for: the scope's, else the project's default."""
    return scope.branch or scope.project.default_branch


def _coverage_runs(scope: Scope, branch: str) -> Select:
    """Runs of ``branch`` in the scope's window that have a coverage report."""
    return (
        select(
            Run.id,
            Run.commit_sha,
            Run.branch,
            Run.job,
            Run.started_at,
            CoverageReport.id,
            CoverageReport.lines_valid,
            CoverageReport.lines_covered,
            CoverageReport.branches_valid,
            CoverageReport.branches_covered,
        )
        .join(CoverageReport, CoverageReport.run_id == Run.id)
        .where(*replace(scope, branch=branch).run_conditions())
    )


def _point(row) -> CoveragePoint:
    run_id, commit, branch, job, started_at, report_id, lv, lc, bv, bc = row
    return CoveragePoint(
        run_id=run_id,
        commit=commit,
        branch=branch,
        started_at=started_at,
        line_rate=rate(lc, lv),
        branch_rate=rate(bc, bv),
        lines_valid=lv,
        lines_covered=lc,
        branches_valid=bv,
        branches_covered=bc,
        job=job,
        report_id=report_id,
    )


def coverage_trend(scope: Scope) -> list[CoveragePoint]:
    """Each coverage run of the branch in the window, oldest first (one query)."""
    query = _coverage_runs(scope, coverage_branch(scope)).order_by(Run.started_at, Run.id)
    return [_point(row) for row in db.session.execute(query)]


def previous_point(points: Sequence[CoveragePoint]) -> CoveragePoint | None:
    """The run before the last one, of the same job (points oldest first)."""
    if not points:
        return None
    latest = points[-1]
    return next((p for p in reversed(points[:-1]) if p.job == latest.job), None)


def _baseline(scope: Scope, job: str) -> CoveragePoint | None:
    """The latest default-branch coverage run in the window, preferring ``job``."""
    same_job_first = case((Run.job == job, 0), else_=1)
    query = (
        _coverage_runs(scope, scope.project.default_branch)
        .order_by(same_job_first, Run.started_at.desc(), Run.id.desc())
        .limit(1)
    )
    row = db.session.execute(query).first()
    return _point(row) if row else None


def coverage_summary(scope: Scope, trend: list[CoveragePoint] | None = None) -> CoverageSummary:
    """Latest run of the branch, its previous run and the default-branch baseline.

    Pass ``trend`` when it was already fetched, to save its query.
    """
    points = coverage_trend(scope) if trend is None else trend
    branch = coverage_branch(scope)
    if not points:
        return CoverageSummary(branch=branch, latest=None)
    latest = points[-1]
    baseline = None
    if branch != scope.project.default_branch:
        baseline = _baseline(scope, latest.job)
    return CoverageSummary(branch, latest, previous_point(points), baseline)


def latest_report(scope: Scope) -> CoverageReport | None:
    """The coverage report of the branch's latest run in the window (run loaded)."""
    query = (
        select(CoverageReport)
        .join(CoverageReport.run)
        .options(contains_eager(CoverageReport.run))
        .where(*replace(scope, branch=coverage_branch(scope)).run_conditions())
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    )
    return db.session.scalars(query).first()


# --- per file ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileCoverage:
    """One file of the latest run, with its changes."""

    path: str
    lines_valid: int
    lines_covered: int
    branches_valid: int | None
    branches_covered: int | None
    line_rate: float | None
    branch_rate: float | None
    missing_lines: int
    missing_branches: int | None
    delta_branch_rate: float | None  # vs the previous run of the same branch
    delta_vs_default: float | None  # branch rate vs the default branch's latest run
    delta_line_rate: float | None  # vs the previous run of the same branch
    is_new: bool = False  # absent from the previous run (which exists)

    @property
    def has_branch_data(self) -> bool:
        return self.branches_valid is not None


@dataclass(frozen=True, slots=True)
class _Counts:
    lines_valid: int
    lines_covered: int
    branches_valid: int | None
    branches_covered: int | None

    @property
    def line_rate(self) -> float | None:
        return rate(self.lines_covered, self.lines_valid)

    @property
    def branch_rate(self) -> float | None:
        return rate(self.branches_covered, self.branches_valid)


def _file_row(
    path: str, new: _Counts, previous: _Counts | None, baseline: _Counts | None, *, is_new: bool
) -> FileCoverage:
    """A table row from the file's counts in the latest, previous and baseline runs."""
    return FileCoverage(
        path=path,
        lines_valid=new.lines_valid,
        lines_covered=new.lines_covered,
        branches_valid=new.branches_valid,
        branches_covered=new.branches_covered,
        line_rate=new.line_rate,
        branch_rate=new.branch_rate,
        missing_lines=new.lines_valid - new.lines_covered,
        missing_branches=missing(new.branches_covered, new.branches_valid),
        delta_branch_rate=rate_delta(new.branch_rate, _branch_rate(previous)),
        delta_vs_default=rate_delta(new.branch_rate, _branch_rate(baseline)),
        delta_line_rate=rate_delta(new.line_rate, previous.line_rate if previous else None),
        is_new=is_new,
    )


def _branch_rate(counts: _Counts | None) -> float | None:
    return counts.branch_rate if counts is not None else None


def _counts_columns(alias) -> list:
    return [
        alias.id,
        alias.lines_valid,
        alias.lines_covered,
        alias.branches_valid,
        alias.branches_covered,
    ]


def _joined_counts(values: Sequence) -> _Counts | None:
    file_id, *counts = values
    return _Counts(*counts) if file_id is not None else None


def file_table(scope: Scope, summary: CoverageSummary | None = None) -> list[FileCoverage]:
    """Files of the branch's latest coverage run, by path, with their deltas.

    One query: the latest report's files left-joined on path to the previous
    run's and the baseline's. Pass ``summary`` when already computed.
    """
    if summary is None:
        summary = coverage_summary(scope)
    if summary.latest is None:
        return []
    current = aliased(CoverageFile)
    query = (
        select(current.path)
        .add_columns(*_counts_columns(current))
        .select_from(current)
        .where(current.report_id == summary.latest.report_id)
        .order_by(current.path)
    )
    for point in (summary.previous, summary.baseline):
        if point is None:
            # No join at all: an ON clause that is always false makes SQLite
            # scan every coverage file of the project for each row.
            query = query.add_columns(*(null() for _ in range(5)))
            continue
        other = aliased(CoverageFile)
        query = query.add_columns(*_counts_columns(other)).outerjoin(
            other, and_(other.report_id == point.report_id, other.path == current.path)
        )
    rows = []
    for path, *values in db.session.execute(query):
        new, prev, base = (_joined_counts(values[i : i + 5]) for i in (0, 5, 10))
        is_new = summary.previous is not None and prev is None
        rows.append(_file_row(path, new, prev, base, is_new=is_new))
    return rows


def rank_by_uncovered_branches(
    files: Iterable[FileCoverage], threshold: float
) -> list[FileCoverage]:
    """Files whose branch rate is below ``threshold``, most uncovered branches first.

    Ranking by uncovered branches rather than by rate puts the largest gaps
    first: a one-branch file at 0% matters less than a 200-branch file at 60%.
    Files without a branch rate (no data, or no branches) are left out.
    """
    under = [f for f in files if f.branch_rate is not None and f.branch_rate < threshold]
    return sorted(under, key=lambda f: (-(f.missing_branches or 0), f.branch_rate, f.path))


def files_under_threshold(scope: Scope, threshold: float) -> list[FileCoverage]:
    """Latest-run files under ``threshold`` ranked by uncovered branches (weekly review)."""
    return rank_by_uncovered_branches(file_table(scope), threshold)


def lowest_branch_coverage(scope: Scope, limit: int = 10) -> list[FileCoverage]:
    """The files most in need of branch tests: under the project's threshold
    (``Project.branch_coverage_threshold``), most uncovered branches first."""
    threshold = scope.project.branch_coverage_threshold
    return files_under_threshold(scope, threshold)[:limit]


# Sort keys of the file table (the page's ``sort`` parameter) → FileCoverage field.
FILE_SORT_KEYS = {
    "path": "path",
    "line_rate": "line_rate",
    "branch_rate": "branch_rate",
    "missing_branches": "missing_branches",
    "delta": "delta_branch_rate",
    "delta_default": "delta_vs_default",
}


def file_sort(sort: str | None) -> str:
    """``sort`` if it names a key of ``FILE_SORT_KEYS`` (``-key`` descending), else ``path``."""
    return sort if (sort or "").removeprefix("-") in FILE_SORT_KEYS else "path"


def sort_files(files: Iterable[FileCoverage], sort: str | None) -> list[FileCoverage]:
    """Sort by ``file_sort(sort)``. Files without a value (no branch data, no delta)
    always come last."""
    sort = file_sort(sort)
    descending = sort.startswith("-")
    attribute = FILE_SORT_KEYS[sort.removeprefix("-")]
    by_path = sorted(files, key=lambda f: f.path)
    present = [f for f in by_path if getattr(f, attribute) is not None]
    absent = [f for f in by_path if getattr(f, attribute) is None]
    # Python's sort is stable, also reversed: equal values stay in path order.
    present.sort(key=lambda f: getattr(f, attribute), reverse=descending)
    return present + absent


def search_files(files: Iterable[FileCoverage], text: str | None) -> list[FileCoverage]:
    """Files whose path contains ``text`` (case-insensitive)."""
    if not text:
        return list(files)
    needle = text.casefold()
    return [f for f in files if needle in f.path.casefold()]


# --- comparing two reports (review, compare-runs page) -------------------------------


@dataclass(frozen=True, slots=True)
class FileDelta:
    """How one file's coverage changed between two reports."""

    path: str
    status: FileStatus
    old_line_rate: float | None
    new_line_rate: float | None
    old_branch_rate: float | None
    new_branch_rate: float | None
    old_missing_branches: int | None
    new_missing_branches: int | None

    @property
    def delta_line_rate(self) -> float | None:
        return rate_delta(self.new_line_rate, self.old_line_rate)

    @property
    def delta_branch_rate(self) -> float | None:
        return rate_delta(self.new_branch_rate, self.old_branch_rate)

    @property
    def delta_missing_branches(self) -> int:
        return (self.new_missing_branches or 0) - (self.old_missing_branches or 0)


@dataclass(frozen=True, slots=True)
class Movers:
    drops: list[FileDelta] = field(default_factory=list)
    gains: list[FileDelta] = field(default_factory=list)


def _file_status(old: FileCounts | None, new: FileCounts | None) -> FileStatus:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    same = all(
        getattr(old, name) == getattr(new, name)
        for name in ("lines_valid", "lines_covered", "branches_valid", "branches_covered")
    )
    return "unchanged" if same else "changed"


def file_delta(path: str, old: FileCounts | None, new: FileCounts | None) -> FileDelta:
    def rates(f: FileCounts | None) -> tuple[float | None, float | None, int | None]:
        if f is None:
            return None, None, None
        return (
            rate(f.lines_covered, f.lines_valid),
            rate(f.branches_covered, f.branches_valid),
            missing(f.branches_covered, f.branches_valid),
        )

    old_line, old_branch, old_missing = rates(old)
    new_line, new_branch, new_missing = rates(new)
    return FileDelta(
        path=path,
        status=_file_status(old, new),
        old_line_rate=old_line,
        new_line_rate=new_line,
        old_branch_rate=old_branch,
        new_branch_rate=new_branch,
        old_missing_branches=old_missing,
        new_missing_branches=new_missing,
    )


def compare_reports(old: CoverageReport | None, new: CoverageReport) -> list[FileDelta]:
    """Every file of either report, by path: added, removed, changed or unchanged.

    Reads ``report.files``: load the reports with ``reports_by_run`` (files
    eager-loaded) to keep this to two queries.
    """
    old_files = {f.path: f for f in (old.files if old is not None else [])}
    new_files = {f.path: f for f in new.files}
    paths = sorted(old_files.keys() | new_files.keys())
    return [file_delta(p, old_files.get(p), new_files.get(p)) for p in paths]


def movers(deltas: Iterable[FileDelta], limit: int = 5) -> Movers:
    """The largest branch-rate drops and gains among files present in both reports.

    Ties go to the file whose uncovered branches changed most, then by path.
    """
    moved = [d for d in deltas if d.delta_branch_rate]
    drops = sorted(
        (d for d in moved if d.delta_branch_rate < 0),
        key=lambda d: (d.delta_branch_rate, -d.delta_missing_branches, d.path),
    )
    gains = sorted(
        (d for d in moved if d.delta_branch_rate > 0),
        key=lambda d: (-d.delta_branch_rate, d.delta_missing_branches, d.path),
    )
    return Movers(drops=drops[:limit], gains=gains[:limit])


def reports_by_run(run_ids: Iterable[int]) -> dict[int, CoverageReport]:
    """Coverage reports of these runs, keyed by run id, files loaded (two queries)."""
    ids = list(run_ids)
    if not ids:
        return {}
    query = (
        select(CoverageReport)
        .where(rollups.among(CoverageReport.run_id, ids))
        .options(selectinload(CoverageReport.files))
    )
    return {report.run_id: report for report in db.session.scalars(query)}


# --- directory treemap ---------------------------------------------------------------


@dataclass(slots=True)
class DirectoryNode:
    """A directory or file of the treemap; a directory sums the files under it.

    Directory ids end with "/" (the root is "/") so that a file and a directory
    of the same name cannot collide.
    """

    id: str
    parent: str  # "" for the root
    label: str
    path: str
    is_file: bool
    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int | None = None
    branches_covered: int | None = None

    @property
    def line_rate(self) -> float | None:
        return rate(self.lines_covered, self.lines_valid)

    @property
    def branch_rate(self) -> float | None:
        return rate(self.branches_covered, self.branches_valid)

    def value(self, size: TreeSize = "lines") -> int:
        return self.lines_valid if size == "lines" else (self.branches_valid or 0)

    def add(self, f: FileCounts) -> None:
        self.lines_valid += f.lines_valid
        self.lines_covered += f.lines_covered
        # Only files with branch data count towards branches, so that a
        # directory mixing formats is not dragged towards 0%.
        if f.branches_valid is not None:
            self.branches_valid = (self.branches_valid or 0) + f.branches_valid
            self.branches_covered = (self.branches_covered or 0) + (f.branches_covered or 0)


def directory_tree(files: Iterable[FileCounts]) -> list[DirectoryNode]:
    """The root, directories and files, parents before children (Plotly treemap order).

    A directory whose only child is another directory is one tile with it,
    labelled with both names ("src/app"), as code hosts show such paths: the
    first view then shows the directories that tell files apart, not one tile
    for ``src``.
    """
    nodes: dict[str, DirectoryNode] = {}
    root = DirectoryNode(TREE_ROOT_ID, "", TREE_ROOT_LABEL, "", is_file=False)
    nodes[root.id] = root
    for f in sorted(files, key=lambda f: f.path):
        segments = [s for s in f.path.split("/") if s not in ("", ".")]
        if not segments:
            continue
        parent = root
        for depth in range(1, len(segments)):
            path = "/".join(segments[:depth])
            parent = nodes.setdefault(
                path + "/", DirectoryNode(path + "/", parent.id, segments[depth - 1], path, False)
            )
        path = "/".join(segments)
        leaf = nodes.setdefault(path, DirectoryNode(path, parent.id, segments[-1], path, True))
        leaf.add(f)
        for node_id in _ancestors(nodes, leaf):
            nodes[node_id].add(f)
    return _join_directory_chains(list(nodes.values()))


def _join_directory_chains(nodes: list[DirectoryNode]) -> list[DirectoryNode]:
    """Merge each directory that holds only one directory into that one (see above)."""
    children: dict[str, list[DirectoryNode]] = {}
    for node in nodes:
        children.setdefault(node.parent, []).append(node)
    merged: set[str] = set()
    for node in nodes:  # parents first, so a chain of any length folds into its end
        only = children.get(node.id, [])
        if node.parent and not node.is_file and len(only) == 1 and not only[0].is_file:
            child = only[0]
            child.parent, child.label = node.parent, f"{node.label}/{child.label}"
            siblings = children[node.parent]
            siblings[siblings.index(node)] = child
            merged.add(node.id)
    return [node for node in nodes if node.id not in merged]


def _ancestors(nodes: dict[str, DirectoryNode], node: DirectoryNode) -> Iterable[str]:
    while node.parent:
        yield node.parent
        node = nodes[node.parent]
