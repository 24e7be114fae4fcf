"""factory_boy factories bound to the test's session (persistence: flush, never commit).

Each makes only the rows a test needs; traits give the everyday shapes:
``ResultFactory(failing=True)``, ``flaky``, ``slow``, ``skipped``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from dashboard.extensions import db
from dashboard.models import (
    ApiToken,
    Case,
    CoverageFile,
    CoverageReport,
    Project,
    Quarantine,
    Result,
    Run,
    User,
)

BASE_TIME = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class ProjectFactory(BaseFactory):
    class Meta:
        model = Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    default_branch = "main"


class ApiTokenFactory(BaseFactory):
    """``ApiTokenFactory(secret="ss_...")`` stores the hash of that secret."""

    class Meta:
        model = ApiToken
        exclude = ("secret",)

    project = factory.SubFactory(ProjectFactory)
    secret = factory.Sequence(lambda n: f"ss_test-token-{n:04d}")
    name = "ci"
    token_hash = factory.LazyAttribute(lambda o: ApiToken.hash_token(o.secret))
    prefix = factory.LazyAttribute(lambda o: o.secret[:9])


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = "not-a-real-hash"
    is_admin = False


class RunFactory(BaseFactory):
    class Meta:
        model = Run

    project = factory.SubFactory(ProjectFactory)
    build = factory.Sequence(lambda n: f"build-{n}")
    job = "default"
    branch = "main"
    commit_sha = factory.Sequence(lambda n: f"{n:040x}")
    started_at = factory.Sequence(lambda n: BASE_TIME + timedelta(hours=n))


class CaseFactory(BaseFactory):
    class Meta:
        model = Case

    project = factory.SubFactory(ProjectFactory)
    file = "tests/test_example.py"
    classname = "tests.test_example"
    name = factory.Sequence(lambda n: f"test_case_{n}")
    identity = factory.LazyAttribute(lambda o: Case.identity_of(o.file, o.classname, o.name))


class ResultFactory(BaseFactory):
    class Meta:
        model = Result

    run = factory.SubFactory(RunFactory)
    case = factory.SubFactory(CaseFactory, project=factory.SelfAttribute("..run.project"))
    outcome = "passed"
    duration_s = 0.05
    attempts = 1
    retry_flake = False

    class Params:
        failing = factory.Trait(
            outcome="failed",
            failure_type="AssertionError",
            message="assert 1 == 2",
            trace="def test():\n>   assert 1 == 2\nE   assert 1 == 2",
            fingerprint="AssertionError: assert <n> == <n>",
        )
        flaky = factory.Trait(outcome="passed", attempts=2, retry_flake=True)
        slow = factory.Trait(duration_s=12.5)
        skipped = factory.Trait(outcome="skipped", duration_s=0.0, message="not on this platform")


class CoverageReportFactory(BaseFactory):
    class Meta:
        model = CoverageReport

    run = factory.SubFactory(RunFactory)
    format = "cobertura"
    lines_valid = 100
    lines_covered = 80
    branches_valid = 20
    branches_covered = 10


class CoverageFileFactory(BaseFactory):
    class Meta:
        model = CoverageFile

    report = factory.SubFactory(CoverageReportFactory)
    path = factory.Sequence(lambda n: f"src/module_{n}.py")
    lines_valid = 10
    lines_covered = 8
    branches_valid = 4
    branches_covered = 2


class QuarantineFactory(BaseFactory):
    class Meta:
        model = Quarantine

    case = factory.SubFactory(CaseFactory)
    project = factory.SelfAttribute("case.project")
    reason = "flaky on CI"
    created_by = "admin"
