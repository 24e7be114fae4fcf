"""The data model (see ../shared/docs/design.md, "Data model").

Plain SQLAlchemy, free of Flask, so ``ingest`` can write these tables from
anywhere; ``dashboard.extensions.db`` shares this metadata. Names avoid a
``Test`` prefix, which pytest would try to collect.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

# A naming convention makes constraint names stable across SQLite and
# PostgreSQL, so Alembic can compare and alter them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# SQLite has no 64-bit auto-increment through BIGINT, so results use INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine (SQLite keeps them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


OUTCOME_CHECK = "outcome IN ('passed', 'failed', 'error', 'skipped')"
SUSPECT_CONDITION = "outcome IN ('failed', 'error') OR retry_flake IS TRUE"


class Project(Base):
    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_branch: Mapped[str] = mapped_column(String(255), default="main")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Thresholds of the definitions; each project may tune its own.
    flip_rate_threshold: Mapped[float] = mapped_column(Float, default=0.1)
    min_executions: Mapped[int] = mapped_column(Integer, default=10)
    regression_pct: Mapped[float] = mapped_column(Float, default=25.0)
    regression_min_ms: Mapped[float] = mapped_column(Float, default=100.0)
    branch_coverage_threshold: Mapped[float] = mapped_column(Float, default=0.8)
    owners: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="project")

    def __repr__(self) -> str:
        return f"<Project {self.slug}>"


class ApiToken(Base):
    """A project's upload/read token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    project: Mapped[Project] = relationship(back_populates="tokens")

    __table_args__ = (Index(None, "project_id"),)

    @staticmethod
    def hash_token(token: str) -> str:
        # Tokens are 256-bit random strings, so a fast hash is enough: there is
        # nothing to brute-force the way there is with a password.
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Run(Base):
    """One CI job's results for one build; shards with the same (build, job) merge here."""

    __tablename__ = "run"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    build: Mapped[str] = mapped_column(String(255))
    job: Mapped[str] = mapped_column(String(255), default="default")
    commit_sha: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(255))
    build_url: Mapped[str | None] = mapped_column(String(2000))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    tests: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    retry_flakes: Mapped[int] = mapped_column(Integer, default=0)
    # Wall time of the slowest shard, and the summed duration of its cases.
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    case_seconds: Mapped[float] = mapped_column(Float, default=0.0)

    # What this run's results were counted into the rollups with (see
    # ``ingest.store``): its start time and infrastructure verdict then. NULL:
    # not rolled up, so the analytics read its results directly.
    rollup_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rollup_infra: Mapped[bool | None] = mapped_column(Boolean)

    project: Mapped[Project] = relationship()
    uploads: Mapped[list[Upload]] = relationship(back_populates="run", order_by="Upload.id")

    __table_args__ = (
        UniqueConstraint("project_id", "build", "job"),
        Index(None, "project_id", "started_at"),
        Index(None, "project_id", "branch", "job", "started_at"),
        Index(None, "project_id", "branch", "started_at"),
        Index(None, "project_id", "commit_sha"),
    )

    @property
    def executed(self) -> int:
        return self.tests - self.skipped

    @property
    def is_infrastructure_failure(self) -> bool:
        """More than 80% of the executed cases failed (see design.md)."""
        return self.executed > 0 and (self.failed + self.errors) / self.executed > 0.8

    @property
    def is_rolled_up(self) -> bool:
        """The rollups hold exactly this run's results (see ``ingest.store``)."""
        return (
            self.rollup_started_at is not None
            and self.rollup_started_at == self.started_at
            and self.rollup_infra == infrastructure_verdict(self)
        )


def infrastructure_verdict(run: Run) -> bool:
    """``Run.is_infrastructure_failure`` in the integer arithmetic of its SQL form
    (``analytics.scope.infrastructure_failure``), so that both always agree."""
    executed = run.tests - run.skipped
    return executed > 0 and (run.failed + run.errors) * 5 > executed * 4


class Upload(Base):
    """One file received for a run; the same bytes twice are stored once."""

    __tablename__ = "upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cases: Mapped[int] = mapped_column(Integer, default=0)
    wall_seconds: Mapped[float | None] = mapped_column(Float)
    warnings: Mapped[list] = mapped_column(JSON, default=list)

    run: Mapped[Run] = relationship(back_populates="uploads")

    __table_args__ = (
        UniqueConstraint("run_id", "sha256"),
        CheckConstraint("kind IN ('tests', 'coverage')", name="kind"),
    )


class Case(Base):
    """A test's identity within a project: (file, classname, name).

    Like ``Result``, written only by ingest (after its project exists) and in
    bulk, so it carries no foreign-key constraint: on PostgreSQL the per-row
    trigger doubled the cost of a first upload of 100,000 new cases.
    """

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(1000), default="")
    classname: Mapped[str] = mapped_column(String(1000), default="")
    name: Mapped[str] = mapped_column(String(1000))
    suite: Mapped[str] = mapped_column(String(1000), default="")
    # SHA-256 of the identity: unique indexes over three long texts are slow
    # and, on PostgreSQL, limited in size.
    identity: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    project: Mapped[Project] = relationship(primaryjoin="foreign(Case.project_id) == Project.id")

    __table_args__ = (
        UniqueConstraint("project_id", "identity"),
        # Every upload asks whether it saw any case earlier than its first
        # sighting (``ingest.store.backdate_first_sightings``): without this, that
        # read every case of the project, ~100 ms at 100,000 cases.
        Index(None, "project_id", "first_seen_at"),
    )

    @staticmethod
    def identity_of(file: str, classname: str, name: str, suite: str = "") -> str:
        """The identity key: (file, classname, name); the suite stands in for an
        empty classname, so same-named tests of different suites stay apart."""
        parts = (file, classname, name) if classname else (file, "", name, suite)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    @property
    def display_name(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


class Result(Base):
    """One case in one run: the fact table, millions of rows.

    It carries no foreign-key constraints on purpose: ingest writes results only
    after creating their run and joining them to existing cases, and on
    PostgreSQL the per-row referential-integrity triggers cost more than half of
    a 100,000-case ingest (measured: 2.5 s of 4.5 s). Pruning old runs deletes
    their results explicitly (see ``dashboard.retention``).
    """

    __tablename__ = "result"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_flake: Mapped[bool] = mapped_column(Boolean, default=False)
    failure_type: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    trace: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(64))

    run: Mapped[Run] = relationship(primaryjoin="foreign(Result.run_id) == Run.id")
    case: Mapped[Case] = relationship(primaryjoin="foreign(Result.case_id) == Case.id")

    __table_args__ = (
        UniqueConstraint("run_id", "case_id"),
        # One case's history (test history, its duration chart, a regression's
        # change point) reads its results in run order, from this index alone.
        Index(
            "ix_result_case_history",
            "case_id",
            "run_id",
            "outcome",
            "duration_s",
            "attempts",
            "retry_flake",
        ),
        # Failures and retry flakes are the rare rows every flakiness question
        # starts from; a partial index finds them without reading the passes
        # (measured on 1.2M results: 150 ms -> 4 ms), and holds what the
        # flakiness rules read of them, so the table is not visited at all.
        Index(
            "ix_result_suspect",
            "run_id",
            "case_id",
            "outcome",
            "retry_flake",
            "attempts",
            "duration_s",
            postgresql_where=text(SUSPECT_CONDITION),
            sqlite_where=text(SUSPECT_CONDITION),
        ),
        CheckConstraint(OUTCOME_CHECK, name="outcome"),
    )


class CoverageReport(Base):
    """A run's coverage totals; branch fields are NULL when no format gave branch data."""

    __tablename__ = "coverage_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"), unique=True)
    format: Mapped[str] = mapped_column(String(32))
    lines_valid: Mapped[int] = mapped_column(Integer, default=0)
    lines_covered: Mapped[int] = mapped_column(Integer, default=0)
    branches_valid: Mapped[int | None] = mapped_column(Integer)
    branches_covered: Mapped[int | None] = mapped_column(Integer)

    run: Mapped[Run] = relationship()
    files: Mapped[list[CoverageFile]] = relationship(
        back_populates="report", order_by="CoverageFile.path"
    )

    @property
    def line_rate(self) -> float | None:
        return self.lines_covered / self.lines_valid if self.lines_valid else None

    @property
    def branch_rate(self) -> float | None:
        if not self.branches_valid:
            return None
        return (self.branches_covered or 0) / self.branches_valid


class CoverageFile(Base):
    __tablename__ = "coverage_file"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("coverage_report.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1000))
    lines_valid: Mapped[int] = mapped_column(Integer, default=0)
    lines_covered: Mapped[int] = mapped_column(Integer, default=0)
    branches_valid: Mapped[int | None] = mapped_column(Integer)
    branches_covered: Mapped[int | None] = mapped_column(Integer)

    report: Mapped[CoverageReport] = relationship(back_populates="files")

    __table_args__ = (UniqueConstraint("report_id", "path"),)


class Quarantine(Base):
    """A person's decision to quarantine a case; CI reads the active ones."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    project: Mapped[Project] = relationship()
    case: Mapped[Case] = relationship()

    __table_args__ = (Index(None, "project_id", "case_id"),)


# --- rollups ---------------------------------------------------------------------------
#
# Derived from ``result`` and ``run`` by ``ingest.store`` in the transaction of each
# upload, so that the pages' cost follows the window rather than the history. Like
# ``result`` they carry no foreign keys. A run's results are in the rollups when
# ``Run.is_rolled_up``; the analytics read results directly whenever a run of the
# scope is not (rows written by hand, or before ``suitescope rollups rebuild``).


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class utc_date_text(FunctionElement):
    """SQL: the UTC day of a ``UtcDateTime`` column as ``YYYY-MM-DD`` text, so that
    rows can be grouped by day in the database, whatever the session's time zone."""

    type = String()
    inherit_cache = True


@compiles(utc_date_text, "sqlite")
def _utc_date_text_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps naive UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_date_text, "postgresql")
def _utc_date_text_postgresql(element, compiler, **kw) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def week_of(day: date) -> date:
    """The Monday of ``day``'s week: the key of ``CaseWeek``."""
    return day - timedelta(days=day.weekday())


# Every upload of a project rewrites the same rows of these tables: its cases'
# week and day. On PostgreSQL each rewrite is a new row version, which stays on
# the old one's page (a HOT update: no new index entry, and the page's dead
# versions are pruned in place) only while the page has room. Full pages send
# every version elsewhere, with index entries that concurrent uploads then wade
# through. Half of each page kept free: bench.load, 16 clients, 24.8 -> 32.1
# uploads/s (medians of six runs each). SQLite has no such setting.
ROLLUP_STORAGE = {"fillfactor": 50}


class CaseWeek(Base):
    """One case in one week (Monday to Sunday, UTC): the figures that questions
    about every case of a project read (the slowest, the regressed, presence).

    ``executions`` counts non-skipped results of every run; the duration figures
    cover the samples of ``analytics.durations``: non-skipped results of runs
    that are not infrastructure failures. ``min_s`` and ``max_s`` only ever widen
    (a run found to be an infrastructure failure later leaves them as they
    were), so they bound the samples without always being attained.
    """

    __tablename__ = "case_week"

    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    executions: Mapped[int] = mapped_column(Integer, default=0)
    timed: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    seconds_sq: Mapped[float] = mapped_column(Float, default=0.0)  # for the spread
    min_s: Mapped[float | None] = mapped_column(Float)
    max_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = {"sqlite_with_rowid": False, "postgresql_with": ROLLUP_STORAGE}


class CaseDay(Base):
    """One case's duration samples on one UTC day.

    Each sample (a non-skipped result of a run that is not an infrastructure
    failure) is one character in ``buckets``, its duration's bucket, and one at
    the same place in ``runs``, naming its run (``run_tag``). Buckets grow by
    0.5%, so a percentile read back is within 0.25% of the exact one. Appending
    a character to each per upload keeps ingest cheap; whole days are read as
    they are, and only the days a window boundary cuts need the run tags.
    """

    __tablename__ = "case_day"

    # Case first: a page reads a few cases' days, each case's side by side (three
    # times faster than seeking each day on SQLite, where the table is its key).
    case_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    runs: Mapped[str] = mapped_column(Text, default="")
    buckets: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = {"sqlite_with_rowid": False, "postgresql_with": ROLLUP_STORAGE}

    # Durations from 1 us to two days fall in buckets of 0.5%; a zero duration has
    # its own bucket. Bucket characters are CJK ideographs, in the Basic
    # Multilingual Plane (two bytes each in a Python string); run tags are
    # supplementary-plane characters, so that a million runs get distinct ones.
    GROWTH = 1.005
    SMALLEST_S = 1e-6
    LARGEST_S = 86_400.0 * 2
    ZERO_CODE = 0x4E00
    RUN_TAG_BASE = 0x10000
    RUN_TAG_SPAN = 0x100000

    @classmethod
    def bucket(cls, seconds: float) -> int:
        """The bucket of a duration: 0 for (almost) nothing, else 1 and up."""
        if seconds < cls.SMALLEST_S:
            return 0
        seconds = min(seconds, cls.LARGEST_S)
        return 1 + math.floor(math.log(seconds / cls.SMALLEST_S) / math.log(cls.GROWTH))

    @classmethod
    def bucket_value(cls, bucket: int) -> float:
        """The middle of a bucket (geometrically): within 0.25% of its every value."""
        if bucket <= 0:
            return 0.0
        return cls.SMALLEST_S * cls.GROWTH ** (bucket - 0.5)

    @classmethod
    def run_tag(cls, run_id: int) -> str:
        """The character naming a run in its day's samples (run ids a day apart
        never share one)."""
        return chr(cls.RUN_TAG_BASE + run_id % cls.RUN_TAG_SPAN)

    @classmethod
    def bucket_char(cls, seconds: float) -> str:
        return chr(cls.ZERO_CODE + cls.bucket(seconds))

    @classmethod
    def value_of(cls, char: str) -> float:
        return cls.bucket_value(ord(char) - cls.ZERO_CODE)
