"""Read JUnit-style XML test reports into a ``ParsedTestReport``.

The reader is an lxml parser *target*: it is told of each element's start (tag
and attributes), its character data and its end, and never holds a tree. Two
drivers feed it the same events:

* ``parse_junit(data)`` gives it to lxml's parser, so a 100,000-case report is
  read in one pass with no tree and no per-element proxy objects (``iterparse``
  with the same work per case took half as long again);
* ``parse_junit_root(root)`` replays a tree that is already parsed.

Detection streams every JUnit file, whatever its size (a tree and a replay cost
a 1,000-case report more than twice the streaming pass); a tree reaches the
reader only when its caller already holds one. Same events, same reader, same
report; a test holds the two drivers to that.

junitparser is not used: its ``time``/``tests`` accessors raise on odd values
and write computed statistics back into the document when an attribute is
missing, its suites flatten nesting (we need the innermost suite of each case),
it has no ``<rerun>`` element, and walking it costs about twice a bare
``iterparse`` pass, over our budget for large files.
"""

from __future__ import annotations

import gc
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

from ingest.errors import SUPPORTED_FORMATS_TEXT, EmptyReport, UnsupportedFormat
from ingest.records import (
    MAX_FAILURE_TYPE_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_TRACE_CHARS,
    Outcome,
    ParsedCase,
    ParsedTestReport,
)
from ingest.xmlsafe import check_prolog, parser_options, syntax_error

TESTSUITES = "testsuites"
TESTSUITE = "testsuite"
TESTCASE = "testcase"
JUNIT_ROOTS = frozenset({TESTSUITES, TESTSUITE})

# Final results of a test case, worst first: with several, the worst decides.
_FINAL_OUTCOMES: dict[str, Outcome] = {"error": "error", "failure": "failed", "skipped": "skipped"}
# Attempts that failed before the final one: ``flaky*`` when it passed, ``rerun*``
# when it did not (Surefire, nextest, Playwright), ``<rerun>`` either way (pytest
# rerun plugins). Each is one more attempt; a final pass makes a retry flake.
_RETRY_ATTEMPTS = frozenset({"flakyFailure", "flakyError", "rerunFailure", "rerunError", "rerun"})
_RESULTS = _RETRY_ATTEMPTS | frozenset(_FINAL_OUTCOMES)
# Children that carry nothing we store.
_QUIET_CASE_CHILDREN = frozenset({"system-out", "system-err", "properties", "attachments"})
_QUIET_SUITE_CHILDREN = frozenset({"system-out", "system-err"})
# A ``status`` attribute decides only when no result element does
# (GoogleTest ``notrun``, CTest and tst ``disabled``, tst ``failed``/``errored``).
_STATUS_OUTCOMES: dict[str, Outcome] = {
    "disabled": "skipped",
    "notrun": "skipped",
    "skipped": "skipped",
    "skip": "skipped",
    "ignored": "skipped",
    "pending": "skipped",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
    "error": "error",
    "errored": "error",
}
# For a case reported more than once without a pass/fail mix: the worst wins.
_OUTCOME_RANK: dict[str, int] = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
_FAILING = frozenset({"failed", "error"})

# A test or suite time above this is not a duration (container-structure-test
# writes nanoseconds); it is read as 0 with a warning.
_MAX_PLAUSIBLE_SECONDS = 7 * 24 * 3600.0
# Timestamps at or before the Unix epoch are placeholders (jest-junit, gotestsum).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_HASH_SUFFIX_CHARS = 16
_IDENTITY_MARKER = "…#"
_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?")
_LINE_SUFFIX = re.compile(r":\d+$")
_UTC_SUFFIX = re.compile(r"\s*(?:Z|UTC|GMT)$", re.IGNORECASE)
_TIME_CACHE_SIZE = 10_000
_MAX_WARNINGS = 20
_LABEL_CHARS = 120


def parse_junit(data: bytes) -> ParsedTestReport:
    """Parse a whole JUnit XML document in one streaming pass.

    Raises ``ForbiddenXml`` for entity declarations, ``MalformedReport`` (with
    line and column) for broken XML, ``UnsupportedFormat`` when the root is not
    ``<testsuites>``/``<testsuite>`` and ``EmptyReport`` when there is no test case.
    """
    check_prolog(data)
    reader = _ReportReader()
    try:
        with _cyclic_gc_paused():
            etree.fromstring(data, etree.XMLParser(target=reader, **parser_options()))
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None
    return reader.finish()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off while reading.

    Reading allocates two objects per case and no reference cycles, yet the
    collector keeps rescanning the growing heap: about a tenth of the time of
    a 100,000-case file. Left as found (another thread may have paused it too).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_junit_root(root: etree._Element) -> ParsedTestReport:
    """Read an already-parsed JUnit root element (same rules and errors as ``parse_junit``)."""
    reader = _ReportReader()
    _replay(root, reader)
    return reader.finish()


def _not_junit(root_tag: str) -> UnsupportedFormat:
    """The refusal for an XML document whose root is not a JUnit one."""
    name = root_tag.rsplit("}", 1)[-1]
    return UnsupportedFormat(
        f"root element <{name}> is not JUnit XML; we read {SUPPORTED_FORMATS_TEXT}"
    )


def _escapes_ampersands() -> bool:
    """Whether lxml hands a parser target ``&`` in attribute values as ``&#38;``.

    libxml2 does so when entities are not substituted (``resolve_entities=False``,
    which ``ingest.xmlsafe`` insists on); asked once rather than assumed.
    """
    seen = {}

    class Probe:
        def start(self, tag: str, attrib: Mapping[str, str]) -> None:
            seen.update(attrib)

        def close(self) -> None:
            pass

    etree.fromstring(b'<a b="&amp;"/>', etree.XMLParser(target=Probe(), **parser_options()))
    return seen["b"] == "&#38;"


_PARSER_ESCAPES_AMPERSANDS = _escapes_ampersands()


def _from_attribute(value: str) -> str:
    """An attribute value as written, undoing the parser's ``&#38;`` (see above)."""
    if _PARSER_ESCAPES_AMPERSANDS and "&" in value:
        return value.replace("&#38;", "&")
    return value


def _replay(element: etree._Element, reader: _ReportReader) -> None:
    """Tell the reader about a parsed element as the parser would have.

    Recursion is bounded: libxml2 refuses documents nested over 256 deep
    unless ``huge_tree`` is set, which ``ingest.xmlsafe`` never does.
    """
    attributes = dict(element.attrib)
    if _PARSER_ESCAPES_AMPERSANDS:
        attributes = {key: value.replace("&", "&#38;") for key, value in attributes.items()}
    reader.start(element.tag, attributes)
    if element.text:
        reader.data(element.text)
    for child in element:
        if isinstance(child.tag, str):  # not a comment or processing instruction
            _replay(child, reader)
        if child.tail:
            reader.data(child.tail)
    reader.end(element.tag)


# --- What the reader keeps while reading ---------------------------------------------------


@dataclass(slots=True, eq=False)
class _Suite:
    """What one ``<testsuite>`` (or the ``<testsuites>`` root) says and holds."""

    name: str
    file: str
    parent: _Suite | None
    is_container: bool  # the ``<testsuites>`` root rather than a suite
    stated_seconds: float | None
    stated_tests: str | None
    stated_failures: str | None
    stated_errors: str | None
    path: str = ""  # dotted names of the enclosing suites and this one
    last_suite_file: str = ""  # of the root's suites, the last file named (see _suite_file)
    cases: int = 0  # test case elements, nested suites included
    fails: int = 0
    case_seconds: float = 0.0  # of the cases directly in this suite
    nested_case_seconds: float = 0.0
    child_suite_seconds: float = 0.0

    @property
    def total_case_seconds(self) -> float:
        return self.case_seconds + self.nested_case_seconds

    @property
    def seconds(self) -> float:
        """The suite's own time, else the time of the cases it holds."""
        if self.stated_seconds is not None:
            return self.stated_seconds
        return self.total_case_seconds


@dataclass(slots=True, eq=False)
class _Result:
    """One result element (``<failure>``, ``<flakyFailure>``, ...) and its text."""

    tag: str
    message: str | None
    type: str | None
    text: list[str] = field(default_factory=list)
    stack_trace: list[str] = field(default_factory=list)  # Surefire retry elements

    @classmethod
    def of(cls, tag: str, attrib: Mapping[str, str]) -> _Result:
        message, type_ = attrib.get("message"), attrib.get("type")
        return cls(tag, message and _from_attribute(message), type_ and _from_attribute(type_))

    def trace(self) -> str | None:
        text = "".join(self.text).strip() or "".join(self.stack_trace).strip()
        return text or None

    def first_message(self) -> str | None:
        """The ``message`` attribute, else the first non-blank line of the trace."""
        message = (self.message or "").strip()
        if message:
            return message
        for line in (self.trace() or "").splitlines():
            if line.strip():
                return line.strip()
        return None


@dataclass(slots=True)
class _Clues:
    """Hints about the producer, gathered cheaply while reading (see ``_guess_dialect``)."""

    root_tag: str = ""
    root: dict[str, str] = field(default_factory=dict)
    suites: list[dict[str, str]] = field(default_factory=list)  # the first few
    property_names: set[str] = field(default_factory=set)
    case: dict[str, str] | None = None  # the first one's attributes
    robot_style: bool = False
    elements: set[str] = field(default_factory=set)  # retry elements seen

    @property
    def root_name(self) -> str:
        return self.root.get("name", "")

    @property
    def suite(self) -> dict[str, str]:
        return self.suites[0] if self.suites else {}

    @property
    def suite_name(self) -> str:
        return self.suite.get("name", "").lower()

    @property
    def suite_attrs(self) -> set[str]:
        return {name for suite in self.suites for name in suite}

    @property
    def case_attrs(self) -> dict[str, str]:
        return self.case or {}

    @property
    def case_status(self) -> str:
        return self.case_attrs.get("status", "")

    @property
    def file_extension(self) -> str:
        file = self.case_attrs.get("file") or self.suite.get("file") or ""
        return file.rpartition(".")[2].lower() if "." in file else ""


# What the reader is inside of: decides what a start tag and character data mean.
_DOCUMENT, _SUITE, _CASE, _RESULT, _STACK_TRACE, _PROPERTIES, _SUITE_RESULT, _IGNORED = range(8)


class _ReportReader:
    """An lxml parser target that turns JUnit events into one report."""

    def __init__(self) -> None:
        self.warnings = _Warnings()
        self.clues = _Clues()
        self.root: _Suite | None = None
        self.cases: dict[tuple[str, ...], ParsedCase] = {}
        self.earliest: datetime | None = None
        self.suite_errors: list[str] = []
        self._identities: dict[str, str] = {}
        self._files: dict[str, str] = {}
        self._seconds_by_text: dict[str, float] = {}
        self._unnamed_cases = 0
        # What the reader is inside of, where character data goes (if anywhere),
        # and the same for each enclosing element.
        self._mode = _DOCUMENT
        self._text: list[str] | None = None
        self._frames: list[tuple[int, list[str] | None]] = []
        self._suite: _Suite | None = None  # the innermost open suite
        self._case: ParsedCase | None = None
        self._case_key: tuple[str, ...] = ()
        self._case_status: str | None = None
        self._case_results: list[_Result] | None = None
        self._result: _Result | None = None

    # The parser target interface

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        mode = self._mode
        if mode == _SUITE and tag == TESTCASE:  # the common case, kept short (see end)
            self._mode = _CASE
            self._open_case(attrib)
            return
        text = None
        if mode == _SUITE:
            if tag == TESTSUITE:
                self._open_suite(attrib)
            else:
                mode, text = self._start_in_suite(tag, attrib)
        elif mode == _CASE:
            mode, text = self._start_in_case(tag, attrib)
        elif mode == _RESULT and tag == "stackTrace" and self._result is not None:
            mode, text = _STACK_TRACE, self._result.stack_trace
        elif mode == _PROPERTIES and tag == "property":
            self.clues.property_names.add(attrib.get("name") or "")
            mode = _IGNORED
        elif mode == _DOCUMENT:
            self._open_root(tag, attrib)
            mode = _SUITE
        else:
            mode = _IGNORED
        self._frames.append((self._mode, self._text))
        self._mode, self._text = mode, text

    def data(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)

    def end(self, tag: str) -> None:
        mode = self._mode
        if mode == _CASE:
            # A case opens only inside a suite, where no text is kept: no frame to pop.
            self._mode = _SUITE
            self._close_case()
            return
        self._mode, self._text = self._frames.pop()
        if mode == _SUITE:
            self._close_suite()
        elif mode == _SUITE_RESULT:
            self._note_suite_error()

    def close(self) -> None:
        """The parser's end; the report comes from ``finish``, never from an error path."""

    # Suites

    def _open_root(self, tag: str, attrib: Mapping[str, str]) -> None:
        if tag not in JUNIT_ROOTS:
            raise _not_junit(tag)
        self.clues.root_tag = tag
        self.clues.root = dict(attrib)
        if tag == TESTSUITE:
            self._open_suite(attrib)
        else:
            self._suite = self._new_suite(attrib, "", None, is_container=True)
        self.root = self._suite

    def _open_suite(self, attrib: Mapping[str, str]) -> None:
        parent = self._suite
        name = self._identity(attrib.get("name") or "")
        suite = self._new_suite(attrib, name, parent, is_container=False)
        suite.path = f"{parent.path}.{name}" if parent is not None and parent.path else name
        if len(self.clues.suites) < 3:
            self.clues.suites.append(dict(attrib))
        self._suite = suite

    def _new_suite(
        self, attrib: Mapping[str, str], name: str, parent: _Suite | None, *, is_container: bool
    ) -> _Suite:
        self._note_timestamp(attrib.get("timestamp"), name)
        return _Suite(
            name=name,
            file=self._suite_file(attrib, parent),
            parent=parent,
            is_container=is_container,
            stated_seconds=self._suite_seconds(attrib.get("time"), name),
            stated_tests=attrib.get("tests"),
            stated_failures=attrib.get("failures"),
            stated_errors=attrib.get("errors"),
        )

    def _suite_file(self, attrib: Mapping[str, str], parent: _Suite | None) -> str:
        """The file a suite names (PHPUnit, Cypress, minitest), else the one it is in.

        mocha-junit-reporter (Cypress) writes its suites flat under the root and
        names the spec file only on the first of each file's run ("Root Suite"):
        the top-level suites after it, up to the next one naming a file, are in it.
        """
        raw = attrib.get("file") or attrib.get("filepath")
        if parent is None:
            return self._file(raw) if raw else ""
        if not parent.is_container:
            return self._file(raw) if raw else parent.file
        if raw:
            parent.last_suite_file = self._file(raw)
        return parent.last_suite_file

    def _start_in_suite(self, tag: str, attrib: Mapping[str, str]) -> tuple[int, list[str] | None]:
        if tag == "properties":
            return _PROPERTIES, None
        if tag in ("error", "failure"):
            self._result = _Result.of(tag, attrib)
            return _SUITE_RESULT, self._result.text
        if tag not in _QUIET_SUITE_CHILDREN:
            where = f"in suite '{self._current_suite().name}'"
            self.warnings.add(f"unknown element <{tag}> ignored", where)
        return _IGNORED, None

    def _note_suite_error(self) -> None:
        # Ant and Surefire put a class that failed to load here: no case to attach it to.
        assert self._result is not None
        suite = self._current_suite()
        tag = self._result.tag
        message = self._result.first_message() or "no message"
        self.suite_errors.append(f"suite '{suite.name}' reports an <{tag}>: {message}")
        self.warnings.add(
            f"<{tag}> outside any test case ignored", f"suite '{suite.name}': {message}"
        )

    def _close_suite(self) -> None:
        suite = self._current_suite()
        self._check_counts(suite)
        parent = self._suite = suite.parent
        if parent is not None:
            parent.cases += suite.cases
            parent.fails += suite.fails
            parent.nested_case_seconds += suite.total_case_seconds
            parent.child_suite_seconds += suite.seconds

    def _check_counts(self, suite: _Suite) -> None:
        stated_tests = _count(suite.stated_tests)
        failures, errors = _count(suite.stated_failures), _count(suite.stated_errors)
        stated_fails = (
            None if failures is None and errors is None else (failures or 0) + (errors or 0)
        )
        if stated_tests in (None, suite.cases) and stated_fails in (None, suite.fails):
            return
        where = f"suite '{suite.name}'" if suite.name else "the report"
        self.warnings.add(
            "stated counts disagree with the test cases found",
            f"{where} says tests={stated_tests}, failures+errors={stated_fails}; "
            f"found {suite.cases} and {suite.fails}",
        )

    def _current_suite(self) -> _Suite:
        assert self._suite is not None  # only asked inside a suite or the root
        return self._suite

    # Cases

    def _open_case(self, attrib: Mapping[str, str]) -> None:
        """Start a case from its attributes; its result elements may follow.

        This runs once per case on files of 100,000 cases, so the common path
        (short clean names, a plain time) stays inline.
        """
        get = attrib.get
        suite = self._suite
        assert suite is not None
        name = get("name") or ""
        raw_classname = get("classname")
        if raw_classname is None:
            # Codeception writes ``class``, and tells data-provider examples apart
            # only in ``feature`` ("description | example").
            raw_classname = get("class") or ""
            name = _with_example(name, get("feature"))
        # lxml refuses every C0 control character but tab, LF and CR, even as
        # a character reference; only CR (``&#13;``) needs cleaning out.
        if len(name) > MAX_NAME_CHARS or "\r" in name or "&" in name:
            name = _bounded_identity(_from_attribute(name))
        elif not name:
            name = self._name_unnamed_case()
        classname = self._identities.get(raw_classname)
        if classname is None:
            classname = self._identities[raw_classname] = _identity_of(raw_classname)
        raw_file = get("file")
        file = self._files.get(raw_file) if raw_file else suite.file
        if file is None:
            file = self._file(raw_file)
        time_text = get("time")
        duration = self._seconds_by_text.get(time_text) if time_text else 0.0
        if duration is None:
            duration = self._read_case_seconds(time_text, classname, name)
        self._case = ParsedCase(name, classname, file, suite.name, "passed", duration)
        # Without a class name the suite is the test's namespace (nested suites
        # of anonymous cases, Rust, Ant without classname).
        self._case_key = (file, classname, name) if classname else (file, "", name, suite.name)
        self._case_status = get("status")
        self._case_results = None
        if self.clues.case is None:
            self._note_first_case(attrib, suite, classname)

    def _name_unnamed_case(self) -> str:
        """A name for a case written without one, by its place in the report.

        Unnamed cases cannot be told apart; merging them would invent retries.
        """
        self._unnamed_cases += 1
        self.warnings.add(
            "test case without a name, named by its position", f"#{self._unnamed_cases}"
        )
        return f"(unnamed test {self._unnamed_cases})"

    def _start_in_case(self, tag: str, attrib: Mapping[str, str]) -> tuple[int, list[str] | None]:
        if tag in _RESULTS:
            self._result = _Result.of(tag, attrib)
            if self._case_results is None:
                self._case_results = []
            self._case_results.append(self._result)
            return _RESULT, self._result.text
        if tag not in _QUIET_CASE_CHILDREN:
            case = self._case
            assert case is not None
            self.warnings.add(f"unknown element <{tag}> ignored", _label(case.classname, case.name))
        return _IGNORED, None

    def _close_case(self) -> None:
        case = self._case
        assert case is not None
        if self._case_results is not None:
            self._settle(case, self._case_results)
        elif self._case_status:
            case.outcome = _STATUS_OUTCOMES.get(self._case_status.lower(), "passed")
        suite = self._suite
        assert suite is not None
        suite.cases += 1
        suite.case_seconds += case.duration_s
        if case.outcome in _FAILING:
            suite.fails += 1
        earlier = self.cases.setdefault(self._case_key, case)
        if earlier is case:
            return
        _merge(earlier, case)
        self.warnings.add(
            "test case reported more than once; reports merged into one",
            _label(case.classname, case.name),
        )

    def _settle(self, case: ParsedCase, results: list[_Result]) -> None:
        """Outcome, attempts and details of a case from its result elements."""
        finals: dict[str, list[_Result]] = {}
        retries = []
        for result in results:
            if result.tag in _FINAL_OUTCOMES:
                finals.setdefault(result.tag, []).append(result)
            else:
                self.clues.elements.add(result.tag)
                retries.append(result)
        case.attempts += len(retries)
        evidence: list[_Result] = []
        for tag, outcome in _FINAL_OUTCOMES.items():
            if tag in finals:
                case.outcome, evidence = outcome, finals[tag]
                break
        else:
            if self._case_status:
                case.outcome = _STATUS_OUTCOMES.get(self._case_status.lower(), "passed")
            if case.outcome == "passed" and retries:
                case.retry_flake = True
                evidence = retries  # the failures that were retried away explain the flake
        if evidence:
            _describe(case, evidence)

    def _note_first_case(self, attrib: Mapping[str, str], suite: _Suite, classname: str) -> None:
        self.clues.case = dict(attrib)
        # Robot Framework names a test's class after the dotted path of its suites.
        nested = suite.parent is not None and not suite.parent.is_container
        self.clues.robot_style = nested and classname == suite.path

    # Normalisation, cached: class names and files repeat from case to case.

    def _identity(self, text: str) -> str:
        cached = self._identities.get(text)
        if cached is None:
            cached = self._identities[text] = _identity_of(text)
        return cached

    def _file(self, text: str) -> str:
        cached = self._files.get(text)
        if cached is None:
            cached = self._files[text] = _bounded_identity(_normalise_path(_from_attribute(text)))
        return cached

    # Times

    def _read_case_seconds(self, text: str, classname: str, name: str) -> float:
        """A case's time in seconds; a time that is not one is read as 0, with a warning.

        Plain times are remembered: reports repeat them ("0.001") so often that
        looking one up is cheaper than ``float`` on a large file.
        """
        value, problem = _seconds(text)
        if problem is not None:
            self.warnings.add(
                f"{problem} read as 0", f"testcase {_label(classname, name)}: {text!r}"
            )
        elif len(self._seconds_by_text) < _TIME_CACHE_SIZE:
            self._seconds_by_text[text] = value
        return value

    def _suite_seconds(self, text: str | None, name: str) -> float | None:
        if text is None:
            return None
        value, problem = _seconds(text)
        if problem is None:
            return value
        where = f"suite '{name}'" if name else "the report"
        self.warnings.add(f"{problem} ignored", f"{where}: {text[:40]!r}")
        return None

    def _note_timestamp(self, text: str | None, suite_name: str) -> None:
        if not text:
            return
        moment = _parse_timestamp(text)
        if moment is not None and moment > _EPOCH:
            if self.earliest is None or moment < self.earliest:
                self.earliest = moment
            return
        kind = "unreadable timestamp" if moment is None else "placeholder timestamp"
        where = f"suite '{suite_name}'" if suite_name else "the report"
        self.warnings.add(f"{kind} ignored", f"{where}: {text[:40]!r}")

    # The report

    def finish(self) -> ParsedTestReport:
        if not self.cases:
            message = "the report has no test cases"
            if self.suite_errors:
                message += f"; {self.suite_errors[0]}"
            raise EmptyReport(message)
        assert self.root is not None  # there are cases, so there was a root
        return ParsedTestReport(
            cases=list(self.cases.values()),
            dialect=_guess_dialect(self.clues),
            timestamp=self.earliest,
            wall_seconds=_wall_seconds(self.root),
            warnings=self.warnings.as_list(),
        )


def _wall_seconds(root: _Suite) -> float:
    """The report's own total, else its top-level suites', else its cases'."""
    if root.stated_seconds is not None:
        return root.stated_seconds
    if root.is_container:
        return root.child_suite_seconds + root.case_seconds
    return root.total_case_seconds


# --- One case's details --------------------------------------------------------------------


def _describe(case: ParsedCase, evidence: list[_Result]) -> None:
    """Message, trace and failure type from the result elements behind the outcome."""
    messages: list[str] = []
    traces = []
    for result in evidence:
        message = result.first_message()
        if message and message not in messages:
            messages.append(message)
        trace = result.trace()
        if trace:
            traces.append(trace)
    joined_messages = _clean_text("\n".join(messages))
    case.message = _bounded_text(joined_messages, MAX_MESSAGE_CHARS, keep_tail=False)
    case.trace = _bounded_text(_clean_text("\n\n".join(traces)), MAX_TRACE_CHARS, keep_tail=True)
    failure_type = next((r.type.strip() for r in evidence if r.type and r.type.strip()), "")
    if failure_type:
        case.failure_type = _bounded_text(
            _clean_text(failure_type), MAX_FAILURE_TYPE_CHARS, keep_tail=False
        )


def _with_example(name: str, feature: str | None) -> str:
    """Codeception's ``name`` plus the data-provider example its ``feature`` ends with."""
    if not feature or " | " not in feature:
        return name
    return f"{name} | {feature.rsplit(' | ', 1)[1]}"


# --- A case reported more than once --------------------------------------------------------


def _merge(into: ParsedCase, other: ParsedCase) -> None:
    """Fold a repeated report of a case into the first: attempts and times add up.

    Any pass together with any failure is a retry flake that passed; otherwise
    the worst outcome stands (all skipped stays skipped).
    """
    passed = into.outcome == "passed" or other.outcome == "passed"
    failed = _failed_once(into) or _failed_once(other)
    if passed and failed:
        outcome: Outcome = "passed"
    else:
        outcome = max(into.outcome, other.outcome, key=_OUTCOME_RANK.__getitem__)
    if _explains(other, outcome) and not _explains(into, outcome):
        into.failure_type, into.message, into.trace = (
            other.failure_type,
            other.message,
            other.trace,
        )
    into.outcome = outcome
    into.retry_flake = passed and failed
    into.attempts += other.attempts
    into.duration_s += other.duration_s


def _failed_once(case: ParsedCase) -> bool:
    return case.outcome in _FAILING or case.retry_flake


def _explains(case: ParsedCase, outcome: Outcome) -> bool:
    """Whether the case's details describe ``outcome`` (a failure, for a retry flake)."""
    if case.message is None and case.trace is None:
        return False
    if outcome == "passed":
        return _failed_once(case)
    return case.outcome == outcome


# --- Text ----------------------------------------------------------------------------------


def _clean_text(text: str) -> str:
    """Line breaks as ``\\n`` and no C0 control characters but tab and newline."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) <= MAX_MESSAGE_CHARS and not text.isprintable():
        # Only ever CR in practice (see ``_open_case``); messages are short, so
        # checking them all costs nothing. Long traces are left to that guarantee.
        text = _C0_CONTROLS.sub("", text)
    return text


def _identity_of(attribute: str) -> str:
    return _bounded_identity(_from_attribute(attribute))


def _bounded_identity(text: str) -> str:
    """A name, class name or file fit for an identity: clean, at most MAX_NAME_CHARS.

    A longer one keeps its beginning and ends with a hash of the whole, so two
    long names that differ only at the end stay two identities.
    """
    if not text.isprintable():
        text = _C0_CONTROLS.sub("", text)
    if len(text) <= MAX_NAME_CHARS:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    keep = MAX_NAME_CHARS - len(_IDENTITY_MARKER) - _HASH_SUFFIX_CHARS
    return text[:keep] + _IDENTITY_MARKER + digest[:_HASH_SUFFIX_CHARS]


def _bounded_text(text: str, limit: int, *, keep_tail: bool) -> str | None:
    """``text`` cut to ``limit`` characters with a visible marker; ``None`` when empty.

    Traces keep their end as well as their start: Python puts the error last.
    """
    if not text:
        return None
    if len(text) <= limit:
        return text
    marker = f"\n… [{len(text) - limit:,}+ characters cut] …\n"
    room = limit - len(marker)
    if not keep_tail:
        return text[:room] + marker.rstrip("\n")
    head = room // 2
    return text[:head] + marker + text[len(text) - (room - head) :]


def _normalise_path(path: str) -> str:
    """Forward slashes, no leading ``./``, no ``:line`` suffix (ExUnit writes one)."""
    path = path.strip().replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return _LINE_SUFFIX.sub("", path)


def _label(classname: str, name: str) -> str:
    label = f"{classname}.{name}" if classname else name
    if len(label) > _LABEL_CHARS:
        label = label[: _LABEL_CHARS - 1] + "…"
    return f"'{label}'"


# --- Numbers and times ---------------------------------------------------------------------


def _seconds(text: str) -> tuple[float, str | None]:
    """A duration and, when it cannot be one, what is wrong with it."""
    try:
        value = float(text)
    except ValueError:
        value = _thousands(text)
    if value is None or value != value:  # garbage or NaN
        return 0.0, "unreadable time"
    if value < 0:
        return 0.0, "negative time"
    if value > _MAX_PLAUSIBLE_SECONDS:
        return 0.0, "implausible time (over 7 days)"
    return value, None


def _thousands(text: str) -> float | None:
    """``1,234.5`` → 1234.5 (commas as thousands separators only)."""
    text = text.strip()
    if _THOUSANDS.fullmatch(text):
        return float(text.replace(",", ""))
    return None


def _count(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _parse_timestamp(text: str) -> datetime | None:
    """A timestamp as an aware UTC datetime, or ``None`` when unreadable.

    ISO 8601 with or without a zone (none means UTC), with a space for the
    ``T``, a ``T `` (JunitXml.TestLogger), a `` UTC`` suffix (TestNG) or more
    than six fractional digits; else RFC 2822 (mocha-junit-reporter's
    ``Sat, 03 Dec 2022 23:10:07 GMT``).
    """
    moment = _iso_timestamp(text) or _rfc2822_timestamp(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past the last datetime in UTC
        return None


def _iso_timestamp(text: str) -> datetime | None:
    text = text.strip().replace("T ", "T")
    suffix = _UTC_SUFFIX.search(text)
    if suffix:
        text = text[: suffix.start()] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _rfc2822_timestamp(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


# --- Warnings ------------------------------------------------------------------------------


class _Warnings:
    """One line per kind of warning, with its first example and how many more."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def add(self, kind: str, example: str) -> None:
        if kind in self._counts:
            self._counts[kind] += 1
        else:
            self._counts[kind] = 1
            self._first[kind] = example

    def as_list(self) -> list[str]:
        lines = []
        for kind, example in self._first.items():
            more = self._counts[kind] - 1
            lines.append(f"{kind}: {example}" + (f" (and {more} more)" if more else ""))
        if len(lines) > _MAX_WARNINGS:
            hidden = len(lines) - _MAX_WARNINGS
            lines = [*lines[:_MAX_WARNINGS], f"and {hidden} more kinds of warning"]
        return lines


# --- Dialect -------------------------------------------------------------------------------


def _guess_dialect(clues: _Clues) -> str:
    """The producer, best effort, from names and attributes; informational only."""
    for dialect, matches in _DIALECT_RULES:
        if matches(clues):
            return dialect
    return "generic"


_PLAYWRIGHT_ROOT = frozenset({"id", "name", "tests", "failures", "skipped", "errors", "time"})
_SUREFIRE_RETRIES = _RETRY_ATTEMPTS - {"rerun"}
_GRADLE_SUITE = {"name", "tests", "skipped", "failures", "errors", "timestamp", "hostname", "time"}
# First match wins: the specific signatures before the loose ones.
_DIALECT_RULES: tuple[tuple[str, Callable[[_Clues], bool]], ...] = (
    ("nextest", lambda c: c.root_name == "nextest-run"),
    ("jest", lambda c: c.root_name == "jest tests"),
    ("vitest", lambda c: c.root_name == "vitest tests"),
    ("cypress", lambda c: c.root_name == "Mocha Tests" and "file" in c.suite_attrs),
    ("mocha", lambda c: c.root_name == "Mocha Tests" or c.suite_name == "root suite"),
    ("pytest", lambda c: "pytest" in (c.root_name, c.suite_name)),
    ("rspec", lambda c: c.suite_name == "rspec"),
    ("minitest", lambda c: c.suite_name == "minitest" or "lineno" in c.case_attrs),
    ("cucumber", lambda c: "cucumber" in c.suite_name),
    ("go", lambda c: "go.version" in c.property_names),
    ("catch2", lambda c: c.suite.get("hostname") == "tbd" or "random-seed" in c.property_names),
    ("karma", lambda c: "browser.fullName" in c.property_names),
    ("android", lambda c: {"device", "flavor", "project"} <= c.property_names),
    ("playwright", lambda c: frozenset(c.root) == _PLAYWRIGHT_ROOT and "hostname" in c.suite_attrs),
    ("testng", lambda c: c.suite.get("timestamp", "").endswith(" UTC")),
    ("dotnet", lambda c: c.suite_name.endswith(".dll")),
    ("ant", lambda c: any(p.startswith("ant.") for p in c.property_names)),
    ("gradle", lambda c: c.suite_attrs == _GRADLE_SUITE and not c.property_names),
    ("xctest", lambda c: c.suite_name == "testresults"),
    ("surefire", lambda c: any(a.endswith("noNamespaceSchemaLocation") for a in c.suite_attrs)),
    ("surefire", lambda c: any(p.startswith("surefire.") for p in c.property_names)),
    ("surefire", lambda c: bool(c.elements & _SUREFIRE_RETRIES)),
    ("pytest", lambda c: "rerun" in c.elements),
    ("codeception", lambda c: "feature" in c.case_attrs),
    ("phpunit", lambda c: {"file", "assertions"} <= c.suite_attrs or c.file_extension == "php"),
    ("bazel", lambda c: "duration" in c.case_attrs),
    ("googletest", lambda c: c.root_name == "AllTests" or "result" in c.case_attrs),
    ("googletest", lambda c: c.root_tag == TESTSUITES and c.case_status in ("run", "notrun")),
    ("ctest", lambda c: c.root_tag == TESTSUITE and c.case_status in ("run", "fail", "notrun")),
    ("robot", lambda c: c.robot_style),
    ("pytest", lambda c: c.file_extension == "py"),
    ("go", lambda c: c.case_attrs.get("name", "").startswith("Test") and "/" in c.suite_name),
)
