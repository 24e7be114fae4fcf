"""Errors raised while reading a report.

Every refusal is an ``IngestError`` carrying the HTTP status the upload API
answers with, so the endpoint, the CLI and the tests report the same reason.
"""

from __future__ import annotations


class IngestError(Exception):
    """A report (or its metadata) that cannot be stored, with a clear reason."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.line = line
        self.column = column

    def with_filename(self, filename: str) -> IngestError:
        """Attach the uploaded file's name unless one is already set."""
        if self.filename is None:
            self.filename = filename
        return self

    def to_dict(self) -> dict:
        body: dict = {"code": self.code, "message": str(self)}
        for key in ("filename", "line", "column"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        return body

    def __str__(self) -> str:
        where = ""
        if self.filename:
            where = self.filename
        if self.line is not None:
            where += f" line {self.line}" if where else f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
        return f"{where}: {self.message}" if where else self.message


class MalformedReport(IngestError):
    """The bytes claim a format we read but do not parse (400)."""

    status = 400
    code = "malformed_report"


class ForbiddenXml(MalformedReport):
    """An XML entity declaration: refused, never expanded (400)."""

    code = "forbidden_xml"


class UnsupportedFormat(IngestError):
    """A format we do not read (415)."""

    status = 415
    code = "unsupported_format"


class EmptyReport(IngestError):
    """A report with no test cases and no coverage data (422)."""

    status = 422
    code = "empty_report"


class InvalidMetadata(IngestError):
    """An upload metadata field that does not parse (422)."""

    status = 422
    code = "invalid_metadata"


class TooLarge(IngestError):
    """More bytes than the configured limit, before or after decompression (413)."""

    status = 413
    code = "too_large"


SUPPORTED_FORMATS_TEXT = (
    "JUnit XML, Cobertura XML, coverage.py JSON, LCOV, JaCoCo XML, Clover XML and Go coverprofile"
)
