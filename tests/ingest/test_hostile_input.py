"""Hostile and broken input, parser by parser: a clear ``IngestError`` or a bounded result.

Every payload here is an attack at a realistic size (a billion laughs that
would expand to 3 GB, a gzip bomb of 1,000:1, a 50 MB attribute ...), and every
one is refused or bounded at once, before anything is expanded, read or
fetched. The upload API's side of the same inputs (status codes, nothing
stored, pages that escape what was stored) is in
``tests/dashboard/api/test_hostile_uploads.py``, which builds on the payloads
defined here.

Decisions recorded by these tests:

* an empty file (0 bytes, white space, a byte-order mark) is 400 "the file is
  empty", as ``test_detect`` has it; a coverage parser called directly says
  422 "the ... report is empty";
* an attribute value or coverage text node over libxml2's 10 MB limit is a
  400 naming the parser's safety limit; JUnit text (a failure's trace, its
  output) of any size is read as it streams and kept bounded
  (``MAX_TRACE_CHARS``);
* an entity reference to an external DTD that is never loaded is dropped
  (libxml2 cannot know what it would have said), never resolved.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import ingest.detect
from ingest import xmlsafe
from ingest.coverage import MAX_COUNT, clover, cobertura, coveragepy, gocover, jacoco, lcov
from ingest.coverage.paths import MAX_PATH_CHARS
from ingest.detect import decompress, detect_and_parse
from ingest.errors import (
    EmptyReport,
    ForbiddenXml,
    IngestError,
    InvalidMetadata,
    MalformedReport,
    TooLarge,
    UnsupportedFormat,
)
from ingest.junit import parse_junit
from ingest.metadata import parse_metadata
from ingest.pipeline import MAX_UPLOAD_NAME_CHARS, upload_name
from ingest.records import MAX_MESSAGE_CHARS, MAX_TRACE_CHARS, ParsedCoverage, ParsedTestReport

MB = 1024 * 1024

# --- Payloads (shared with the upload API's tests) ------------------------------------------

JUNIT_BODY = b'<testsuite name="s"><testcase classname="c" name="t" time="0.1"/></testsuite>'
COBERTURA_BODY = (
    b'<coverage lines-valid="1" lines-covered="1"><packages><package name="p"><classes>'
    b'<class name="a" filename="src/a.py"><lines><line number="1" hits="1"/></lines></class>'
    b"</classes></package></packages></coverage>"
)
JACOCO_BODY = (
    b'<report name="r"><package name="com/acme"><sourcefile name="A.java">'
    b'<line nr="1" mi="0" ci="1" mb="0" cb="0"/></sourcefile></package></report>'
)
CLOVER_BODY = (
    b'<coverage generated="1"><project timestamp="1"><file name="a.php" path="src/a.php">'
    b'<line num="1" type="stmt" count="1"/></file></project></coverage>'
)
XML_BODIES = {
    "junit": JUNIT_BODY,
    "cobertura": COBERTURA_BODY,
    "jacoco": JACOCO_BODY,
    "clover": CLOVER_BODY,
}
ROOTS = {
    "junit": b"testsuite",
    "cobertura": b"coverage",
    "jacoco": b"report",
    "clover": b"coverage",
}

# A prolog padded past the 64 KB that a quick scan of the head looks at.
PROLOG_PADDING = b"<!-- " + b"padding " * 9000 + b"-->\n"


def with_doctype(body: bytes, root: bytes, subset: bytes, *, padded: bool = False) -> bytes:
    """``body`` behind an XML declaration and a DOCTYPE with an internal subset."""
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n' + (PROLOG_PADDING if padded else b"")
    return head + b"<!DOCTYPE " + root + b" [\n" + subset + b"]>\n" + body


def billion_laughs_subset() -> bytes:
    """Ten levels of ten: ``&lol9;`` would be 10^9 "lol"s, 3 GB, from under 1 KB."""
    lines = [b'<!ENTITY lol "lol">']
    previous = b"lol"
    for level in range(1, 10):
        name = b"lol%d" % level
        lines.append(b'<!ENTITY %s "%s">' % (name, (b"&" + previous + b";") * 10))
        previous = name
    return b"\n".join(lines) + b"\n"


def billion_laughs(kind: str = "junit", *, padded: bool = False) -> bytes:
    body = XML_BODIES[kind].replace(b'name="', b'name="&lol9;', 1)
    return with_doctype(body, ROOTS[kind], billion_laughs_subset(), padded=padded)


def quadratic_blowup(kind: str = "junit", *, padded: bool = False) -> bytes:
    """One 100 KB entity used 50,000 times (no nesting): 5 GB from 250 KB."""
    subset = b'<!ENTITY a "' + b"x" * 100_000 + b'">\n'
    body = XML_BODIES[kind].replace(b'name="', b'name="' + b"&a;" * 50_000, 1)
    return with_doctype(body, ROOTS[kind], subset, padded=padded)


def external_entity(url: str, kind: str = "junit", *, padded: bool = False) -> bytes:
    """A SYSTEM entity (``file:///etc/passwd``, ``http://...``) used in a name."""
    subset = b'<!ENTITY xxe SYSTEM "' + url.encode() + b'">\n'
    body = XML_BODIES[kind].replace(b'name="', b'name="&xxe;', 1)
    return with_doctype(body, ROOTS[kind], subset, padded=padded)


def parameter_entity(url: str, kind: str = "junit", *, padded: bool = False) -> bytes:
    """A parameter entity pulling in an external DTD from inside the internal subset."""
    subset = b'<!ENTITY % remote SYSTEM "' + url.encode() + b'">\n%remote;\n'
    return with_doctype(XML_BODIES[kind], ROOTS[kind], subset, padded=padded)


def external_dtd_only(url: str, kind: str = "junit") -> bytes:
    """What coverage.py and JaCoCo write: a DOCTYPE naming an external DTD, no subset."""
    return (
        b'<?xml version="1.0" ?>\n<!DOCTYPE '
        + ROOTS[kind]
        + b' SYSTEM "'
        + url.encode()
        + b'">\n'
        + XML_BODIES[kind]
    )


def deeply_nested(kind: str = "junit", depth: int = 100_000) -> bytes:
    """``depth`` nested elements inside the report's first element."""
    body = XML_BODIES[kind]
    cut = body.index(b">") + 1
    return body[:cut] + b"<x>" * depth + b"</x>" * depth + body[cut:]


def huge_attribute(size: int = 50 * MB) -> bytes:
    """A failure message attribute of ``size`` bytes."""
    return (
        b'<testsuite name="s"><testcase classname="c" name="t"><failure message="'
        + b"A" * size
        + b'"/></testcase></testsuite>'
    )


def gzip_bomb(decompressed: int) -> bytes:
    """Gzip members of 10 MB of zeros each, concatenated: about 1,000:1."""
    member = gzip.compress(b"\0" * (10 * MB), compresslevel=9, mtime=0)
    return member * -(-decompressed // (10 * MB))


def large_junit(cases: int) -> bytes:
    """A plain JUnit report of ``cases`` passing cases, about 40 bytes each."""
    return (
        b'<testsuite name="big">'
        + b"".join(b'<testcase classname="c" name="t%d"/>' % i for i in range(cases))
        + b"</testsuite>"
    )


@contextmanager
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that would serve a DTD; yields its URL and the paths asked for.

    libxml2 does its own I/O in C, out of reach of the suite's socket guard:
    a server that counts requests is what proves nothing was fetched. (The
    libxml2 that lxml bundles today, 2.14, has no HTTP client left at all; the
    ``file://`` cases are the ones a careless parser setting would fall for.)
    """
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY leaked "LEAKED-OVER-HTTP">')

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/evil.dtd", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def served_dtd() -> Iterator[tuple[str, list[str]]]:
    with dtd_server() as served:
        yield served


@pytest.fixture
def server(served_dtd) -> tuple[str, list[str]]:
    """The module's DTD server, with no request recorded yet."""
    served_dtd[1].clear()
    return served_dtd


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A local file an external entity or DTD could point at."""
    path = tmp_path / "secret.dtd"
    path.write_text('<!ENTITY leaked "LEAKED-FROM-DISK">\nTOP-SECRET-CONTENT\n')
    return path


PASSWD = Path("/etc/passwd")
PASSWD_TEXT = PASSWD.read_text() if PASSWD.is_file() else ""


def assert_nothing_leaked(*texts: object) -> None:
    for text in texts:
        text = str(text)
        assert "LEAKED" not in text
        assert "TOP-SECRET" not in text
        if PASSWD_TEXT:
            assert PASSWD_TEXT.splitlines()[0] not in text


# --- Entry points ---------------------------------------------------------------------------

XML_PARSERS: dict[str, Callable[[bytes], object]] = {
    "detect": detect_and_parse,
    "junit": parse_junit,
    "cobertura": cobertura.parse,
    "jacoco": jacoco.parse,
    "clover": clover.parse,
}
KIND_OF_PARSER = {"detect": "junit", "junit": "junit"}


def xml_entry_points() -> list[tuple[str, str]]:
    """(parser, document kind): detection over every XML format, and each parser."""
    pairs = [("detect", kind) for kind in XML_BODIES]
    pairs += [(name, KIND_OF_PARSER.get(name, name)) for name in XML_PARSERS if name != "detect"]
    return pairs


LARGE_BYTES = 2 * 1024 * 1024


def streamed(data: bytes) -> bytes:
    """A JUnit document made large (2 MB): every byte of it goes through the stream."""
    filler = b"<testcase classname='filler' name='f%d'/>"
    count = LARGE_BYTES // len(filler) + 1
    cut = data.rindex(b"</testsuite>")
    return data[:cut] + b"".join(filler % i for i in range(count)) + data[cut:]


# --- Entity declarations: refused, never expanded, never read, never fetched ----------------


@pytest.mark.parametrize("padded", [False, True], ids=["plain", "padded-prolog"])
@pytest.mark.parametrize(("parser", "kind"), xml_entry_points())
@pytest.mark.parametrize("attack", ["billion-laughs", "quadratic-blowup"])
def test_entity_expansion_attacks_are_refused(attack, parser, kind, padded) -> None:
    build = billion_laughs if attack == "billion-laughs" else quadratic_blowup
    data = build(kind, padded=padded)
    with pytest.raises(ForbiddenXml) as caught:
        XML_PARSERS[parser](data)
    error = caught.value
    assert (error.status, error.code) == (400, "forbidden_xml")
    assert "entity declarations are not accepted" in str(error)
    assert error.line == data[: data.index(b"<!ENTITY")].count(b"\n") + 1


@pytest.mark.parametrize("padded", [False, True], ids=["plain", "padded-prolog"])
def test_entity_attacks_in_a_streamed_junit_file_are_refused(padded) -> None:
    for data in (billion_laughs(padded=padded), quadratic_blowup(padded=padded)):
        large = streamed(data)
        assert len(large) > LARGE_BYTES
        with pytest.raises(ForbiddenXml):
            detect_and_parse(large, "big.xml")


@pytest.mark.parametrize("padded", [False, True], ids=["plain", "padded-prolog"])
@pytest.mark.parametrize(("parser", "kind"), xml_entry_points())
def test_external_entities_are_never_read_or_fetched(
    parser, kind, padded, server, secret_file
) -> None:
    url, requested = server
    attacks = [
        external_entity("file:///etc/passwd", kind, padded=padded),
        external_entity(secret_file.as_uri(), kind, padded=padded),
        external_entity(url, kind, padded=padded),
        external_entity("http://attacker.invalid/x", kind, padded=padded),
        parameter_entity(url, kind, padded=padded),
        parameter_entity(secret_file.as_uri(), kind, padded=padded),
    ]
    for data in attacks:
        with pytest.raises(ForbiddenXml) as caught:
            XML_PARSERS[parser](data)
        assert_nothing_leaked(caught.value, caught.value.to_dict())
    assert requested == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
@pytest.mark.parametrize(
    "attack",
    [billion_laughs, quadratic_blowup, lambda: external_entity("file:///etc/passwd")],
    ids=["billion-laughs", "quadratic-blowup", "file-entity"],
)
def test_entity_attacks_in_utf16_are_refused(attack, encoding) -> None:
    # A scan for "<!ENTITY" in single bytes cannot see these.
    text = streamed(attack()).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    for data in (text[: text.index("<testcase classname='filler'")] + "</testsuite>", text):
        for parse in (detect_and_parse, parse_junit):
            with pytest.raises(ForbiddenXml):
                parse(data.encode(encoding))


def test_an_entity_declaration_in_a_long_internal_subset_is_found() -> None:
    # The declaration lies beyond the quick scan, after 70 KB of comment inside the subset.
    subset = PROLOG_PADDING + b'<!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
    data = with_doctype(JUNIT_BODY.replace(b'name="t"', b'name="&xxe;"'), b"testsuite", subset)
    for parse in (detect_and_parse, parse_junit, lambda d: detect_and_parse(streamed(d))):
        with pytest.raises(ForbiddenXml) as caught:
            parse(data)
        assert caught.value.line == data[: data.index(b"<!ENTITY")].count(b"\n") + 1


def test_entity_declaration_text_inside_a_report_is_not_a_declaration() -> None:
    # A test of an XML parser may well print "<!ENTITY" in its output.
    data = (
        b'<testsuite name="s"><testcase classname="c" name="t"><system-out><![CDATA['
        b'<!DOCTYPE t [<!ENTITY x "y">]>]]></system-out></testcase></testsuite>'
    )
    report = detect_and_parse(PROLOG_PADDING + data)
    assert [case.name for case in report.cases] == ["t"]


def test_a_doctype_after_a_comment_is_never_read_as_part_of_it() -> None:
    # A comment ends at its first "-->". Were it read on to the one inside the
    # instruction, the DOCTYPE would pass for commentary, the root seem to
    # start there, and the entity beyond the quick scan go unchecked.
    data = (
        b"<!-- a --><!DOCTYPE testsuite [<?note --><testsuite ?>\n"
        + PROLOG_PADDING
        + b'<!ENTITY xxe SYSTEM "file:///etc/passwd">\n]><testsuite/>'
    )
    with pytest.raises(ForbiddenXml):
        xmlsafe.refuse_entity_declarations(data)


@pytest.mark.parametrize(
    ("prolog", "asks_libxml2"),
    [
        (b'<?xml version="1.0"?>\n<!-- made by pytest -->\n<?pi x?>\n', False),
        (b"\xef\xbb\xbf", False),
        (b"<!-- says ?> and -> and <!DOCTYPE in passing -->", False),
        (b'<!DOCTYPE testsuite SYSTEM "junit.dtd">\n', True),
        (PROLOG_PADDING, True),  # the root lies beyond the head
    ],
    ids=["declaration-comment-pi", "bom", "comment-with-markup", "doctype", "padded"],
)
def test_only_a_prolog_that_may_hold_a_doctype_is_read_by_libxml2(
    monkeypatch, prolog, asks_libxml2
) -> None:
    # The check must cost a large report nothing when there is no DOCTYPE.
    asked = []
    monkeypatch.setattr(xmlsafe, "_internal_dtd_declares_entities", asked.append)
    xmlsafe.refuse_entity_declarations(prolog + JUNIT_BODY)
    assert bool(asked) is asks_libxml2


@pytest.mark.parametrize("kind", list(XML_BODIES))
def test_a_doctype_naming_an_external_dtd_is_accepted_and_never_fetched(
    kind, server, secret_file
) -> None:
    url, requested = server
    for dtd in (url, secret_file.as_uri(), "http://attacker.invalid/coverage-04.dtd"):
        data = external_dtd_only(dtd, kind)
        report = detect_and_parse(data, "report.xml")
        assert isinstance(report, ParsedTestReport if kind == "junit" else ParsedCoverage)
        if kind != "junit":
            assert XML_PARSERS[kind](data) == report
    assert requested == []


def test_coverage_py_and_jacoco_doctypes_are_accepted(server) -> None:
    url, requested = server
    cobertura_doctype = (
        b'<?xml version="1.0" ?>\n'
        b'<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n'
    )
    jacoco_doctype = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><!DOCTYPE report PUBLIC '
        b'"-//JACOCO//DTD Report 1.1//EN" "' + url.encode() + b'">'
    )
    assert detect_and_parse(cobertura_doctype + COBERTURA_BODY).format == "cobertura"
    assert detect_and_parse(jacoco_doctype + JACOCO_BODY).format == "jacoco"
    assert requested == []


def test_references_to_entities_of_an_unloaded_dtd_are_dropped(server, secret_file) -> None:
    url, requested = server
    for dtd in (url, secret_file.as_uri()):
        data = external_dtd_only(dtd).replace(
            b'name="t" time="0.1"/>',
            b'name="t&leaked;"><failure message="m&leaked;">&leaked;</failure></testcase>',
        )
        for parse in (detect_and_parse, parse_junit, lambda d: detect_and_parse(streamed(d))):
            report = parse(data)
            case = next(c for c in report.cases if c.classname == "c")
            assert (case.name, case.message) == ("t", "m")
            assert_nothing_leaked(case)
    assert requested == []


# --- Depth, size -----------------------------------------------------------------------------


@pytest.mark.parametrize(("parser", "kind"), xml_entry_points())
def test_xml_nested_100000_deep_is_refused_with_its_position(parser, kind) -> None:
    with pytest.raises(MalformedReport) as caught:
        XML_PARSERS[parser](deeply_nested(kind))
    error = caught.value
    assert error.status == 400
    assert "Excessive depth in document: 25" in error.message
    assert "safety limit" in error.message
    assert "XML_PARSE_HUGE" not in error.message  # libxml2's advice to its callers, not ours
    assert error.line == 1
    assert error.column is not None


def test_streamed_junit_nested_100000_deep_is_refused() -> None:
    with pytest.raises(MalformedReport, match="Excessive depth"):
        detect_and_parse(streamed(deeply_nested("junit")))


def test_json_nested_100000_deep_is_refused() -> None:
    # Regression: json.loads raised RecursionError, a 500 at the API.
    data = b'{"meta": {}, "files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for parse in (detect_and_parse, coveragepy.parse):
        with pytest.raises(MalformedReport, match="nested too deeply"):
            parse(data)


def test_a_json_number_too_long_to_read_is_refused() -> None:
    # Regression: int() refuses over 4,300 digits with ValueError, a 500 at the API.
    data = (
        b'{"meta": {}, "files": {"a.py": {"summary": {"num_statements": '
        + b"9" * 5000
        + b', "covered_lines": 1}}}}'
    )
    for parse in (detect_and_parse, coveragepy.parse):
        with pytest.raises(MalformedReport, match="number too long"):
            parse(data)


@pytest.mark.parametrize("parse", [detect_and_parse, parse_junit])
def test_a_50_mb_attribute_is_refused_with_its_position(parse) -> None:
    with pytest.raises(MalformedReport) as caught:
        parse(huge_attribute())
    error = caught.value
    assert error.status == 400
    assert "Buffer size limit exceeded" in error.message
    assert "safety limit" in error.message
    assert error.line == 1
    assert error.column > 9_000_000  # where the value passed 10 MB


def test_a_50_mb_trace_is_read_and_kept_bounded() -> None:
    data = (
        b'<testsuite name="s"><testcase classname="c" name="t"><failure message="m">'
        + b"trace line\n" * (5 * MB)
        + b"</failure><system-out>"
        + b"o" * (50 * MB)
        + b"</system-out></testcase></testsuite>"
    )
    [case] = detect_and_parse(data).cases
    assert case.outcome == "failed"
    assert len(case.trace) <= MAX_TRACE_CHARS
    assert "characters cut" in case.trace


def test_a_coverage_text_node_over_the_limit_is_refused() -> None:
    data = COBERTURA_BODY.replace(
        b"<packages>", b"<sources><source>" + b"s" * (20 * MB) + b"</source></sources><packages>"
    )
    with pytest.raises(MalformedReport, match=r"Text node too long.*safety limit"):
        detect_and_parse(data)


# --- Encodings -------------------------------------------------------------------------------

UTF8_BODY = "<testsuite name='s'>\n<testcase classname='c' name='caf\u00e9 \u2713'/></testsuite>"


@pytest.mark.parametrize(
    ("data", "position", "words"),
    [
        pytest.param(
            b"<testsuite name='s'>\n<testcase name='a\xff\xfeb'/></testsuite>",
            (2, 18),
            "Invalid bytes in character encoding",
            id="invalid-utf8",
        ),
        pytest.param(
            b"<testsuite name='s'>\n<testcase name='\xed\xa0\x80'/></testsuite>",
            (2, 17),
            "Invalid bytes in character encoding",
            id="utf8-encoded-surrogate",
        ),
        pytest.param(
            ("<?xml version='1.0' encoding='utf-8'?>\n" + UTF8_BODY).encode("latin-1", "replace"),
            (3, 34),
            "Invalid bytes in character encoding",
            id="latin1-declared-utf8",
        ),
        pytest.param(
            ("<?xml version='1.0' encoding='utf-16'?>\n" + UTF8_BODY).encode(),
            (1, 31),
            'says encoding="utf-16", but the file is not utf-16',
            id="utf8-declared-utf16",
        ),
        pytest.param(
            ('<?xml version="1.0" encoding="UTF-32"?>\n' + UTF8_BODY).encode(),
            (1, 31),
            'says encoding="UTF-32", but the file is not UTF-32',
            id="utf8-declared-utf32",
        ),
        pytest.param(
            ("\ufeff<?xml version='1.0' encoding='UTF-16LE'?>\n" + UTF8_BODY).encode(),
            (1, 31),
            'says encoding="UTF-16LE"',
            id="utf8-bom-declared-utf16le",
        ),
        pytest.param(
            ("<?xml version='1.0' encoding='ascii'?>\n" + UTF8_BODY).encode(),
            (1, 37),
            "Invalid bytes in character encoding",
            id="utf8-declared-ascii",
        ),
        pytest.param(
            ("<?xml version='1.0' encoding='no-such-encoding'?>\n" + UTF8_BODY).encode(),
            (1, 48),
            "Unsupported encoding",
            id="unknown-encoding",
        ),
    ],
)
def test_bad_bytes_and_lying_encodings_are_400_with_line_and_column(data, position, words) -> None:
    for parse in (detect_and_parse, parse_junit, lambda d: detect_and_parse(streamed(d))):
        with pytest.raises(MalformedReport) as caught:
            parse(data)
        error = caught.value
        assert error.status == 400
        assert words in error.message
        assert (error.line, error.column) == position


def test_true_encodings_are_read() -> None:
    for data in (
        ("<?xml version='1.0' encoding='utf-16'?>\n" + UTF8_BODY).encode("utf-16"),
        ("<?xml version='1.0' encoding='iso-8859-1'?>\n" + UTF8_BODY).encode("latin-1", "replace"),
        UTF8_BODY.encode("utf-8-sig"),
    ):
        [case] = detect_and_parse(data).cases
        assert case.name.startswith("caf\u00e9")


def test_invalid_utf8_in_json_is_400() -> None:
    data = b'{"meta": {}, "files": {"caf\xe9.py": {"summary": {}}}}'
    for parse in (detect_and_parse, coveragepy.parse):
        with pytest.raises(MalformedReport, match="UTF-8"):
            parse(data)


def test_invalid_utf8_in_text_formats_is_replaced_not_fatal() -> None:
    # LCOV and Go profiles are line-oriented text, read leniently.
    parsed = lcov.parse(b"SF:caf\xe9.c\nDA:1,1\nend_of_record\n")
    assert [f.path for f in parsed.files] == ["caf\ufffd.c"]
    parsed = gocover.parse(b"mode: set\ngithub.com/o/r/caf\xe9/a.go:1.1,2.2 1 1\n")
    assert [f.path for f in parsed.files] == ["caf\ufffd/a.go"]


# --- NUL and control characters --------------------------------------------------------------


@pytest.mark.parametrize(
    "reference", ["&#0;", "&#1;", "&#x1F;", "&#x7;", "&#xFFFE;", "&#xD800;", "&#x110000;"]
)
@pytest.mark.parametrize("where", ["name", "message", "text"])
def test_character_references_xml_forbids_are_400(reference, where) -> None:
    templates = {
        "name": '<testsuite name="s">\n<testcase name="a{}b"/></testsuite>',
        "message": '<testsuite name="s">\n<testcase name="t"><failure message="a{}b"/>'
        "</testcase></testsuite>",
        "text": '<testsuite name="s">\n<testcase name="t"><failure>a{}b</failure>'
        "</testcase></testsuite>",
    }
    data = templates[where].format(reference).encode()
    for parse in (detect_and_parse, parse_junit, lambda d: detect_and_parse(streamed(d))):
        with pytest.raises(MalformedReport) as caught:
            parse(data)
        assert caught.value.status == 400
        assert caught.value.line == 2
        assert caught.value.column is not None


@pytest.mark.parametrize("char", [b"\x00", b"\x01", b"\x08", b"\x1b", b"\x1f"])
@pytest.mark.parametrize("where", ["name", "message", "text"])
def test_raw_control_characters_in_xml_are_400(char, where) -> None:
    templates = {
        "name": b'<testsuite name="s">\n<testcase name="a%sb"/></testsuite>',
        "message": b'<testsuite name="s">\n<testcase name="t"><failure message="a%sb"/>'
        b"</testcase></testsuite>",
        "text": b'<testsuite name="s">\n<testcase name="t"><failure>a%sb</failure>'
        b"</testcase></testsuite>",
    }
    data = templates[where] % char
    for parse in (detect_and_parse, parse_junit):
        with pytest.raises(MalformedReport) as caught:
            parse(data)
        assert (caught.value.status, caught.value.line) == (400, 2)
        assert caught.value.column is not None


def test_carriage_returns_and_tabs_that_xml_allows_are_kept_clean() -> None:
    data = (
        b'<testsuite name="s"><testcase classname="c" name="a&#13;b&#9;c">'
        b'<failure message="x&#13;&#10;y">t&#13;race</failure></testcase></testsuite>'
    )
    [case] = detect_and_parse(data).cases
    assert (case.name, case.message, case.trace) == ("ab\tc", "x\ny", "t\nrace")


@pytest.mark.parametrize(
    ("raw_path", "stored"),
    [
        ("src/a\\u0000b.py", "src/ab.py"),
        ("src/a\\u0001\\u001fb.py", "src/ab.py"),
        ("src/caf\\ud800.py", "src/caf\ufffd.py"),
    ],
)
def test_control_characters_and_lone_surrogates_never_reach_a_stored_path(raw_path, stored) -> None:
    # Regression: JSON can spell NUL (PostgreSQL refuses it in text) and lone
    # surrogates (no encoder writes them); both were stored as they came.
    data = (
        '{"meta": {}, "files": {"' + raw_path + '": {"summary": '
        '{"num_statements": 2, "covered_lines": 1}}}}'
    ).encode()
    assert [f.path for f in detect_and_parse(data).files] == [stored]


def test_nul_in_a_text_report_after_the_binary_sniff_is_cleaned() -> None:
    records = b"".join(b"SF:src/f%d.c\nDA:1,1\nend_of_record\n" % i for i in range(400))
    data = records + b"SF:src/nul\x00.c\nDA:1,1\nend_of_record\n"
    assert len(records) > 8 * 1024
    paths = [f.path for f in detect_and_parse(data).files]
    assert "src/nul.c" in paths
    assert all("\x00" not in path for path in paths)


def test_a_path_that_cleans_to_nothing_is_refused() -> None:
    data = (
        b'{"meta": {}, "files": {"\\u0000": '
        b'{"summary": {"num_statements": 1, "covered_lines": 1}}}}'
    )
    with pytest.raises(MalformedReport, match="does not name a file"):
        detect_and_parse(data)


def test_overlong_coverage_paths_are_bounded_and_kept_apart() -> None:
    long_a, long_b = "src/" + "a" * 3000 + "/x.py", "src/" + "a" * 3000 + "/y.py"
    data = (
        '{"meta": {}, "files": {'
        f'"{long_a}": {{"summary": {{"num_statements": 1, "covered_lines": 1}}}}, '
        f'"{long_b}": {{"summary": {{"num_statements": 1, "covered_lines": 0}}}}}}}}'
    ).encode()
    paths = [f.path for f in detect_and_parse(data).files]
    assert len(paths) == 2
    assert len(set(paths)) == 2
    assert all(len(path) <= MAX_PATH_CHARS for path in paths)


# --- Numbers a database cannot hold, digits int() cannot read ------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(
            "SF:a.c\nDA:\u00b2,1\nend_of_record\n".encode(), "not a whole number", id="lcov-²"
        ),
        pytest.param(
            b"SF:a.c\nDA:" + b"9" * 5000 + b",1\nend_of_record\n",
            "not a whole number",
            id="lcov-5000-digits",
        ),
        pytest.param(
            b"SF:a.c\nDA:1,1\nLF:" + b"9" * 5000 + b"\nend_of_record\n",
            "stated total",
            id="lcov-LF-5000-digits",
        ),
        pytest.param(
            COBERTURA_BODY.replace(b'number="1"', 'number="\u00b2"'.encode()),
            "not a whole number",
            id="cobertura-²",
        ),
        pytest.param(
            COBERTURA_BODY.replace(b'hits="1"', b'hits="' + b"7" * 5000 + b'"'),
            "not a whole number",
            id="cobertura-5000-digits",
        ),
        pytest.param(
            b"mode: set\na.go:1.1,2.2 " + b"9" * 5000 + b" 1\n",
            "not a coverprofile block",
            id="go-5000-digits",
        ),
        pytest.param(
            COBERTURA_BODY.replace(
                b'hits="1"', b'hits="1" condition-coverage="50% (1/99999999999999)"'
            ),
            "more than 2,147,483,647",
            id="cobertura-huge-branch-count",
        ),
        pytest.param(
            b"mode: set\na.go:1.1,2.2 99999999999 1\n",
            "more than 2,147,483,647",
            id="go-huge-statement-count",
        ),
        pytest.param(
            b'{"meta": {}, "files": {"a.py": {"summary": '
            b'{"num_statements": 99999999999, "covered_lines": 1}}}}',
            "more than 2,147,483,647",
            id="coveragepy-huge-count",
        ),
        pytest.param(
            JACOCO_BODY.replace(
                b"</sourcefile>",
                b'<counter type="LINE" missed="99999999999" covered="1"/></sourcefile>',
            ).replace(b' mi="0" ci="1" mb="0" cb="0"', b""),
            "more than 2,147,483,647",
            id="jacoco-huge-counter",
        ),
        pytest.param(
            b'<coverage><project><file path="a.php"><metrics statements="3000000000"/>'
            b"</file></project></coverage>",
            "more than 2,147,483,647",
            id="clover-huge-metrics",
        ),
        pytest.param(  # found by hypothesis (test_parser_properties)
            b'<coverage><project><file path="a.php"><metrics statements="2"'
            b' coveredstatements="2147483648"/></file></project></coverage>',
            "coveredstatements=2147483648 exceeds statements=2",
            id="clover-more-covered-than-statements",
        ),
    ],
)
def test_numbers_out_of_reach_are_400_not_a_crash(data, words) -> None:
    # Regression: int("²") and int() of over 4,300 digits raised ValueError (a
    # 500), and counts over a database INTEGER failed in the database.
    with pytest.raises(MalformedReport, match=words) as caught:
        detect_and_parse(data)
    assert caught.value.status == 400


def test_the_largest_count_a_report_may_give_is_stored() -> None:
    data = (
        b'{"meta": {}, "files": {"a.py": {"summary": {"num_statements": %d, "covered_lines": 1}}}}'
        % MAX_COUNT
    )
    assert detect_and_parse(data).files[0].lines_valid == MAX_COUNT


@pytest.mark.parametrize(
    "stamp",
    [
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "Fri, 31 Dec 9999 23:59:59 -2359",
    ],
)
def test_timestamps_beyond_the_calendar_in_utc_are_a_warning(stamp) -> None:
    # Regression: converting them to UTC raised OverflowError, a 500.
    data = f'<testsuite name="s" timestamp="{stamp}">'
    data += '<testcase classname="c" name="t"/></testsuite>'
    report = detect_and_parse(data.encode())
    assert report.timestamp is None
    assert report.warnings == [f"unreadable timestamp ignored: suite 's': {stamp!r}"]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_started_at_beyond_the_calendar_in_utc_is_invalid_metadata(stamp) -> None:
    with pytest.raises(InvalidMetadata, match="out of range") as caught:
        parse_metadata({"started_at": stamp})
    assert caught.value.status == 422


def test_500000_cases_in_one_file_are_read() -> None:
    data = large_junit(500_000)
    assert len(data) < 25 * MB
    report = detect_and_parse(data, "big.xml")
    assert len(report.cases) == 500_000
    assert report.cases[-1].name == "t499999"


# --- Compression -----------------------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip_bomb(1024 * MB)  # 1 GB from about 1 MB
    assert len(bomb) < 2 * MB
    with pytest.raises(TooLarge) as caught:
        detect_and_parse(bomb, "bomb.xml.gz", limit_bytes=20 * MB)
    assert (caught.value.status, caught.value.filename) == (413, "bomb.xml.gz")
    assert "more than 20,971,520 bytes once decompressed" in str(caught.value)


def test_a_nested_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(gzip_bomb(200 * MB), mtime=0)
    with pytest.raises(TooLarge):
        detect_and_parse(bomb, limit_bytes=20 * MB)
    with pytest.raises(TooLarge):
        decompress(bomb, 100 * 1024)  # the outer layer alone is over a small limit


def test_gzip_nesting() -> None:
    twice = gzip.compress(gzip.compress(JUNIT_BODY))
    assert len(detect_and_parse(twice).cases) == 1
    with pytest.raises(UnsupportedFormat, match="gzip nested more than 2 deep") as caught:
        detect_and_parse(gzip.compress(twice))
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (gzip.compress(JUNIT_BODY)[:-12], "truncated gzip data"),
        (gzip.compress(JUNIT_BODY)[:12], "truncated gzip data"),
        (gzip.compress(JUNIT_BODY)[:-4] + b"\x00\x00\x00\x00", "corrupt gzip data"),
        (b"\x1f\x8b" + b"\xff" * 40, "corrupt gzip data"),
        (gzip.compress(gzip.compress(JUNIT_BODY))[:-9], "truncated gzip data"),
    ],
    ids=["truncated-end", "header-only", "bad-length", "garbage", "truncated-outer"],
)
def test_broken_gzip_is_400(data, words) -> None:
    with pytest.raises(MalformedReport, match=words) as caught:
        detect_and_parse(data, "r.xml.gz")
    assert caught.value.status == 400


def test_a_bomb_in_one_zlib_stream_is_inflated_in_bounded_steps(monkeypatch) -> None:
    calls: list[int] = []
    real = zlib.decompressobj

    class Spy:
        def __init__(self, inner) -> None:
            self.inner = inner

        def decompress(self, data, max_length=0):
            calls.append(max_length)
            return self.inner.decompress(data, max_length)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(ingest.detect.zlib, "decompressobj", lambda **kw: Spy(real(**kw)))
    with pytest.raises(TooLarge):
        decompress(gzip_bomb(30 * MB), 5 * MB)
    assert calls
    assert max(calls) <= 5 * MB + 1


# --- Empty files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"   \n\t\r\n ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n", b"\xff\xfe", b"\xfe\xff\x00 "],
    ids=["zero-bytes", "white-space", "utf8-bom", "utf8-bom-and-space", "utf16le-bom", "utf16be"],
)
def test_an_empty_file_is_400_the_file_is_empty(data) -> None:
    for sent in (data, gzip.compress(data)):
        with pytest.raises(MalformedReport) as caught:
            detect_and_parse(sent, "empty.xml")
        assert caught.value.status == 400
        assert str(caught.value) == "empty.xml: the file is empty"


@pytest.mark.parametrize("parse", [cobertura.parse, jacoco.parse, clover.parse, coveragepy.parse])
@pytest.mark.parametrize("data", [b"", b" \n", b"\xef\xbb\xbf"])
def test_coverage_parsers_given_nothing_say_empty(parse, data) -> None:
    with pytest.raises(EmptyReport) as caught:
        parse(data)
    assert caught.value.status == 422


@pytest.mark.parametrize("parse", [lcov.parse, gocover.parse, parse_junit])
def test_other_parsers_given_nothing_raise_our_error(parse) -> None:
    with pytest.raises(IngestError):
        parse(b"")


# --- Totals that contradict the lines ------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "lines", "words"),
    [
        pytest.param(
            COBERTURA_BODY.replace(
                b'lines-valid="1" lines-covered="1"', b'lines-valid="100" lines-covered="99"'
            ),
            (1, 1),
            "the report states 99 of 100 lines covered, but its per-line data gives 1 of 1",
            id="cobertura",
        ),
        pytest.param(
            b"SF:a.c\nDA:1,1\nDA:2,0\nLF:10\nLH:10\nend_of_record\n",
            (2, 1),
            "1 record(s) state LF/LH totals that contradict their own lines (first: a.c)",
            id="lcov",
        ),
        pytest.param(
            b'{"meta": {}, "totals": {"num_statements": 50, "covered_lines": 50}, "files": '
            b'{"a.py": {"summary": {"num_statements": 4, "covered_lines": 3}}}}',
            (4, 3),
            "the report states 50 of 50 statements covered, but its per-line data gives 3 of 4",
            id="coveragepy",
        ),
        pytest.param(
            JACOCO_BODY + b"",
            (1, 1),
            None,
            id="jacoco-agreeing",
        ),
    ],
)
def test_contradicting_totals_are_stored_from_the_lines_with_a_warning(data, lines, words) -> None:
    if b"<report" in data:
        data = data.replace(b"</report>", b'<counter type="LINE" missed="7" covered="7"/></report>')
        words = "the report states 7 of 14 lines covered, but its per-line data gives 1 of 1"
    parsed = detect_and_parse(data)
    [file] = parsed.files
    assert (file.lines_valid, file.lines_covered) == lines
    assert any(words in warning for warning in parsed.warnings), parsed.warnings


# --- Upload file names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("junit.xml", "junit.xml"),
        ("build/test-results/TEST-a.xml", "build/test-results/TEST-a.xml"),
        ("../../etc/passwd", "etc/passwd"),
        ("..\\..\\windows\\win.ini", "windows/win.ini"),
        ("/etc/passwd", "etc/passwd"),
        ("C:\\Users\\ci\\junit.xml", "Users/ci/junit.xml"),
        ("a/./b/../c.xml", "a/b/c.xml"),
        ("junit\x00.xml", "junit.xml"),
        ("junit.xml\x00../../x", "junit.xml../x"),
        ("\x1b[31mred\x1b[0m.xml", "[31mred[0m.xml"),
        ("caf\ud800.xml", "caf.xml"),
        ("", "upload"),
        ("../..", "upload"),
        ("<script>alert(1)</script>.xml", "<script>alert(1)</script>.xml"),  # escaped when shown
    ],
)
def test_upload_names_are_labels_never_paths(raw, shown) -> None:
    assert upload_name(raw) == shown


def test_upload_names_are_bounded_keeping_their_end() -> None:
    name = upload_name("d/" * 1000 + "junit.xml")
    assert len(name) == MAX_UPLOAD_NAME_CHARS
    assert name.startswith("…")
    assert name.endswith("/d/junit.xml")


def test_error_messages_name_the_cleaned_file() -> None:
    from ingest.pipeline import IncomingFile, prepare_file

    with pytest.raises(MalformedReport) as caught:
        prepare_file(IncomingFile("../../etc/\x00passwd", b"<testsuite>"))
    assert caught.value.filename == "etc/passwd"
    assert str(caught.value).startswith("etc/passwd line 1")


def test_long_messages_and_names_are_bounded() -> None:
    data = (
        b'<testsuite name="s"><testcase classname="c" name="'
        + b"n" * 5000
        + b'"><failure message="'
        + b"m" * 50_000
        + b'"/></testcase></testsuite>'
    )
    [case] = detect_and_parse(data).cases
    assert len(case.name) == 1000
    assert len(case.message) <= MAX_MESSAGE_CHARS
