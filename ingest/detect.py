"""Recognise an uploaded report from its content and hand it to the right parser.

Only the bytes decide; the file name appears in error messages and nowhere
else. gzip is unwrapped first (by its magic bytes, with a bounded output),
then the first meaningful character says XML (``<``), JSON (``{``) or text,
and the XML root element, the JSON keys or the text's first lines say which
format. Anything we do not read is refused with 415 and the list of formats
we do read.
"""

from __future__ import annotations

import io
import json
import re
import zlib

from lxml import etree

from ingest.coverage import clover, cobertura, coveragepy, gocover, jacoco, lcov
from ingest.coverage.coveragepy import unreadable_json
from ingest.errors import (
    SUPPORTED_FORMATS_TEXT,
    IngestError,
    MalformedReport,
    TooLarge,
    UnsupportedFormat,
)
from ingest.junit import JUNIT_ROOTS, parse_junit, parse_junit_root
from ingest.records import ParsedCoverage, ParsedTestReport
from ingest.xmlsafe import (
    check_prolog,
    local_name,
    parse_xml,
    parser_options,
    syntax_error,
)

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_DECOMPRESSED_LIMIT = 100 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
_SNIFF_BYTES = 64 * 1024
_BINARY_SNIFF_BYTES = 8 * 1024
_LCOV_LINE = re.compile(rb"^(?:TN:|SF:|end_of_record\s*$)", re.MULTILINE)
_ZIP_MAGIC = b"PK\x03\x04"
_SQLITE_MAGIC = b"SQLite format 3\x00"  # coverage.py 5+ keeps its data in SQLite
_COVERAGE_PY_DATA = b"!coverage.py:"  # and coverage.py 4 in this prefixed JSON
# Gzip layers we unwrap: a report gzipped once, or once more by an upload tool.
_MAX_GZIP_LAYERS = 2

# Test-report XML we are asked for but do not read, by root element.
_KNOWN_OTHER_XML = {
    "test-run": "NUnit 3 XML",
    "test-results": "NUnit 2 XML",
    "TestRun": "Visual Studio TRX",
    "assemblies": "xUnit.net v2 XML",
    "assembly": "xUnit.net XML",
    "test-suite": "Allure 1 XML",
    "result": "a Jenkins junitResult.xml",
}


def detect_and_parse(
    data: bytes, filename: str = "", *, limit_bytes: int = DEFAULT_DECOMPRESSED_LIMIT
) -> ParsedTestReport | ParsedCoverage:
    """Parse an uploaded report of any format we read, whatever its name.

    ``limit_bytes`` bounds the size after decompression. Raises an
    ``IngestError`` (carrying ``filename``) for anything that cannot be stored:
    ``TooLarge``, ``MalformedReport``/``ForbiddenXml``, ``UnsupportedFormat``
    or ``EmptyReport``.
    """
    try:
        return _parse(unwrap_gzip(data, limit_bytes))
    except IngestError as error:
        if filename:
            error.with_filename(filename)
        raise


def decompress(data: bytes, limit_bytes: int) -> bytes:
    """Gunzip ``data`` (all its members), refusing more than ``limit_bytes`` of output.

    Inflates in bounded steps, so a gzip bomb stops at the limit instead of
    filling memory. Raises ``TooLarge`` over the limit and ``MalformedReport``
    for corrupt or truncated data.
    """
    output = bytearray()
    member = data
    while member:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending = member
        while not inflater.eof:
            try:
                chunk = inflater.decompress(pending, limit_bytes + 1 - len(output))
            except zlib.error as error:
                raise MalformedReport(f"corrupt gzip data: {error}") from None
            if not chunk and not inflater.unconsumed_tail and not inflater.eof:
                raise MalformedReport("truncated gzip data")
            output += chunk
            if len(output) > limit_bytes:
                raise TooLarge(f"more than {limit_bytes:,} bytes once decompressed")
            pending = inflater.unconsumed_tail
        # Concatenated members are one stream (``cat a.gz b.gz``); trailing
        # zero padding, which some tools add, is not another member.
        member = inflater.unused_data
        if not member.strip(b"\x00"):
            break
    return bytes(output)


def unwrap_gzip(data: bytes, limit_bytes: int) -> bytes:
    """``data`` with its gzip layers (at most two) taken off, each bounded as ``decompress``."""
    for _ in range(_MAX_GZIP_LAYERS):
        if not data.startswith(GZIP_MAGIC):
            return data
        data = decompress(data, limit_bytes)
    if data.startswith(GZIP_MAGIC):
        raise UnsupportedFormat(f"gzip nested more than {_MAX_GZIP_LAYERS} deep")
    return data


def _parse(data: bytes) -> ParsedTestReport | ParsedCoverage:
    first = _first_character(data)
    if first is None:
        raise MalformedReport("the file is empty")
    if first == "<":
        return _parse_xml(data)
    if first == "{":
        return _parse_json(data)
    return _parse_text(data)


def _first_character(data: bytes) -> str | None:
    """The first character that is not a byte-order mark or white space."""
    head = data[:_SNIFF_BYTES]
    encoding = _UTF16_BOMS.get(head[:2])
    if encoding is not None:
        text = head[2:].decode(encoding, errors="replace").lstrip()
        return text[:1] or None
    head = head.removeprefix(_UTF8_BOM).lstrip()
    return chr(head[0]) if head else None


# --- XML ------------------------------------------------------------------------------------


def _parse_xml(data: bytes) -> ParsedTestReport | ParsedCoverage:
    # JUnit is streamed whatever its size: for a 1,000-case report, a tree and
    # the reader replayed over it took 12 ms, the streaming pass 5.
    if _root_tag(data) in JUNIT_ROOTS:
        return parse_junit(data)
    return _parse_xml_root(parse_xml(data))


def _root_tag(data: bytes) -> str:
    """The root element's tag, read without parsing the rest of the document."""
    check_prolog(data)
    events = etree.iterparse(io.BytesIO(data), events=("start",), **parser_options())
    try:
        for _, element in events:
            return element.tag
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None
    raise MalformedReport("malformed XML: the document has no root element")


def _parse_xml_root(root: etree._Element) -> ParsedTestReport | ParsedCoverage:
    if root.tag in JUNIT_ROOTS:
        return parse_junit_root(root)
    name = local_name(root)
    if name == "coverage":
        # Clover's <coverage> holds a <project>; Cobertura's holds <packages>.
        if root.find("project") is not None:
            return clover.parse_root(root)
        return cobertura.parse_root(root)
    if name == "report":
        return jacoco.parse_root(root)
    raise _unsupported_xml(root)


def _unsupported_xml(root: etree._Element) -> UnsupportedFormat:
    name = local_name(root)
    what = _KNOWN_OTHER_XML.get(name, "XML")
    namespace = etree.QName(root).namespace
    where = f' in namespace "{namespace}"' if namespace else ""
    return UnsupportedFormat(
        f"{what} with root element <{name}>{where} is not a format we read; "
        f"we read {SUPPORTED_FORMATS_TEXT}"
    )


# --- JSON and text -------------------------------------------------------------------------


def _parse_json(data: bytes) -> ParsedCoverage:
    try:
        document = json.loads(data.removeprefix(_UTF8_BOM))
    except UnicodeDecodeError:
        raise MalformedReport("malformed JSON: not valid UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise MalformedReport(
            f"malformed JSON: {error.msg}", line=error.lineno, column=error.colno
        ) from None
    except (RecursionError, ValueError) as error:
        raise unreadable_json(error) from None
    if isinstance(document, dict) and "files" in document and document.keys() & {"meta", "totals"}:
        return coveragepy.parse(data)  # which reads the bytes again: its contract takes bytes
    raise UnsupportedFormat(
        'JSON that is not a coverage.py report (it needs "files" and "meta" or "totals"); '
        f"we read {SUPPORTED_FORMATS_TEXT}"
    )


def _parse_text(data: bytes) -> ParsedCoverage:
    head = data[:_SNIFF_BYTES].removeprefix(_UTF8_BOM)
    if head.startswith(_ZIP_MAGIC):
        raise UnsupportedFormat("a zip archive: upload the report files inside it, or gzip them")
    if head.startswith((_COVERAGE_PY_DATA, _SQLITE_MAGIC)):
        raise UnsupportedFormat(
            "this looks like a coverage.py data file (.coverage), not a report: "
            "upload the output of `coverage json` or `coverage xml`"
        )
    if b"\x00" in head[:_BINARY_SNIFF_BYTES]:
        raise UnsupportedFormat(f"binary data, not a report; we read {SUPPORTED_FORMATS_TEXT}")
    if head.lstrip().startswith(b"mode:"):
        return gocover.parse(data)
    if _LCOV_LINE.search(head):
        return lcov.parse(data)
    raise UnsupportedFormat(
        f"text that is neither LCOV nor a Go coverprofile; we read {SUPPORTED_FORMATS_TEXT}"
    )
