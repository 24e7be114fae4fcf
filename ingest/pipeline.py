"""The one entry point for every byte that enters Suitescope.

``ingest_upload`` is called by the upload endpoint, ``suitescope ingest``,
``suitescope demo`` and the tests alike: parse every file (refusing the whole
upload on the first bad one), then store everything in one transaction.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.models import CoverageReport, Run
from ingest import store
from ingest.detect import detect_and_parse, unwrap_gzip
from ingest.errors import EmptyReport, IngestError
from ingest.records import ParsedReport, ParsedTestReport
from ingest.transactions import begin_writing


@dataclass(slots=True)
class UploadMeta:
    """What CI tells us about the run the files belong to."""

    commit: str | None = None
    branch: str | None = None
    build: str | None = None
    job: str = "default"
    build_url: str | None = None
    started_at: datetime | None = None


@dataclass(slots=True)
class IncomingFile:
    name: str
    data: bytes


@dataclass(slots=True)
class FileSummary:
    name: str
    format: str
    kind: str  # "tests" or "coverage"
    cases: int | None = None
    coverage_files: int | None = None
    warnings: list[str] = field(default_factory=list)
    duplicate: bool = False


@dataclass(slots=True)
class UploadOutcome:
    run_id: int
    duplicate: bool
    counts: dict[str, int]
    coverage: dict[str, float | None] | None
    files: list[FileSummary]

    def to_json(self, run_url: str) -> dict:
        """The upload API's reply body."""
        return {
            "run_id": self.run_id,
            "run_url": run_url,
            "duplicate": self.duplicate,
            "counts": self.counts,
            "coverage": self.coverage,
            "files": [file_json(f) for f in self.files],
        }


def file_json(summary: FileSummary) -> dict:
    body: dict = {"name": summary.name, "format": summary.format, "kind": summary.kind}
    if summary.kind == "tests":
        body["cases"] = summary.cases
    else:
        body["coverage_files"] = summary.coverage_files
    body["duplicate"] = summary.duplicate
    body["warnings"] = summary.warnings
    return body


@dataclass(slots=True)
class PreparedFile:
    """A file that parsed: its report, and the digest that makes re-sends harmless."""

    name: str
    sha256: str
    size_bytes: int
    report: ParsedReport

    @property
    def kind(self) -> str:
        return "tests" if isinstance(self.report, ParsedTestReport) else "coverage"

    def summary(self, duplicate: bool = False, extra_warnings: list[str] | None = None):
        report = self.report
        warnings = [*report.warnings, *(extra_warnings or [])]
        if isinstance(report, ParsedTestReport):
            return FileSummary(
                self.name,
                report.format,
                "tests",
                cases=len(report.cases),
                warnings=warnings,
                duplicate=duplicate,
            )
        return FileSummary(
            self.name,
            report.format,
            "coverage",
            coverage_files=len(report.files),
            warnings=warnings,
            duplicate=duplicate,
        )


DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DECOMPRESSION_FACTOR = 10
MAX_UPLOAD_NAME_CHARS = 255
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_DRIVE = re.compile(r"^[A-Za-z]:$")


def upload_name(raw: str) -> str:
    """The name a file is shown and stored under, whatever its sender called it.

    Only ever a label, never a path to open: control characters go, ``\\``
    becomes ``/``, and a root, a drive, ``.``, ``..`` and empty segments are
    dropped (``../../etc/passwd`` is shown as ``etc/passwd``). At most
    ``MAX_UPLOAD_NAME_CHARS``, keeping the end, where the file's own name is.
    """
    text = _UNPRINTABLE.sub("", raw).replace("\\", "/")
    segments = [s for s in text.split("/") if s.strip() not in ("", ".", "..")]
    if segments and _DRIVE.match(segments[0]):
        segments = segments[1:]
    name = "/".join(segments) or "upload"
    if len(name) > MAX_UPLOAD_NAME_CHARS:
        name = "…" + name[len(name) - MAX_UPLOAD_NAME_CHARS + 1 :]
    return name


def prepare_file(incoming: IncomingFile, max_bytes: int = DEFAULT_MAX_BYTES) -> PreparedFile:
    """Decompress, digest and parse one file; errors name the file.

    The digest is of the decompressed content, so a report sent once plain and
    once gzipped is recognised as the same file.
    """
    limit = max_bytes * DECOMPRESSION_FACTOR
    name = upload_name(incoming.name)
    try:
        # Unwrapped here, not again in detection: a third layer is refused either way.
        data = unwrap_gzip(incoming.data, limit)
        report = detect_and_parse(data, name, limit_bytes=limit)
    except IngestError as error:
        raise error.with_filename(name) from None
    return PreparedFile(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(incoming.data),
        report=report,
    )


def earliest_timestamp(prepared: Sequence[PreparedFile]) -> datetime | None:
    stamps = [
        p.report.timestamp
        for p in prepared
        if isinstance(p.report, ParsedTestReport) and p.report.timestamp is not None
    ]
    return min(stamps, default=None)


def ingest_upload(
    session: Session,
    project_id: int,
    meta: UploadMeta,
    files: Sequence[IncomingFile],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> UploadOutcome:
    """Parse every file, then store them all in one transaction, or nothing.

    Uploads with the same (project, build, job) merge into one run; a file whose
    bytes this run already has is acknowledged as a duplicate and stores nothing.
    Raises ``IngestError`` (nothing stored) for any file that cannot be read.
    """
    if not files:
        raise EmptyReport("the upload contains no files; send one or more `file` fields")
    prepared = [prepare_file(f, max_bytes) for f in files]
    started_at = meta.started_at or earliest_timestamp(prepared) or datetime.now(UTC)
    try:
        # Parsed before the write lock is taken: concurrent uploads parse in parallel.
        begin_writing(session)
        outcome = store_prepared(session, project_id, meta, started_at, prepared)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return outcome


def store_prepared(
    session: Session,
    project_id: int,
    meta: UploadMeta,
    started_at: datetime,
    prepared: Sequence[PreparedFile],
) -> UploadOutcome:
    run, created = store.get_or_create_run(
        session,
        project_id,
        build=meta.build or f"upload-{uuid.uuid4().hex}",
        job=meta.job or "default",
        started_at=started_at,
        commit=meta.commit,
        branch=meta.branch,
        build_url=meta.build_url,
    )
    # The run's changes (metadata, totals, rollup marks) go out in one UPDATE at
    # the end rather than one before each later query: none of them reads the row.
    with session.no_autoflush:
        return store_into_run(session, run, prepared, created)


def store_into_run(
    session: Session, run: Run, prepared: Sequence[PreparedFile], created: bool
) -> UploadOutcome:
    """Store each new file into the run; ``created``: the run is new in this
    transaction, so whatever it holds, this upload stored (no need to ask)."""
    summaries: list[FileSummary] = []
    stored_any = False
    empty_run, has_coverage = created, not created
    for item in prepared:
        is_new = store.record_upload(
            session,
            run,
            filename=item.name[:500],
            kind=item.kind,
            format=item.report.format,
            size_bytes=item.size_bytes,
            sha256=item.sha256,
            cases=len(item.report.cases) if item.kind == "tests" else 0,
            wall_seconds=getattr(item.report, "wall_seconds", None),
            warnings=list(item.report.warnings),
        )
        if not is_new:
            summaries.append(item.summary(duplicate=True))
            continue
        stored_any = True
        extra = store_report(session, run, item.report, empty_run=empty_run)
        summaries.append(item.summary(extra_warnings=extra))
        if item.kind == "tests":
            empty_run = False
        else:
            has_coverage = True
    if stored_any:
        store.refresh_run_totals(session, run)
    # Also when nothing new was stored: an earlier start time may have moved the run.
    store.roll_up(session, run)
    session.flush()
    return UploadOutcome(
        run_id=run.id,
        duplicate=not stored_any,
        counts=run_counts(run),
        coverage=coverage_rates(session, run) if has_coverage else None,
        files=summaries,
    )


def store_report(session: Session, run: Run, report: ParsedReport, *, empty_run: bool) -> list[str]:
    if isinstance(report, ParsedTestReport):
        store.store_test_report(session, run, report, empty_run=empty_run)
        return []
    return store.store_coverage(session, run, report)


def run_counts(run: Run) -> dict[str, int]:
    return {
        "tests": run.tests,
        "passed": run.passed,
        "failed": run.failed,
        "errors": run.errors,
        "skipped": run.skipped,
        "retry_flakes": run.retry_flakes,
    }


def coverage_rates(session: Session, run: Run) -> dict[str, float | None] | None:
    report = session.scalars(select(CoverageReport).where(CoverageReport.run_id == run.id)).first()
    if report is None:
        return None
    return {"line_rate": report.line_rate, "branch_rate": report.branch_rate}
