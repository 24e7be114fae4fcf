"""Parse untrusted XML with lxml, safely.

Entity declarations are refused outright (billion laughs, quadratic blow-up and
external entities all need one), external DTDs are never loaded and the parser
never touches the network. A DOCTYPE that only names an external DTD, as
coverage.py and JaCoCo write, is accepted.
"""

from __future__ import annotations

import io
import re

from lxml import etree

from ingest.errors import ForbiddenXml, MalformedReport

# How far into the document a DOCTYPE may appear; it must precede the root.
_PROLOG_SCAN_BYTES = 64 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
# A prolog with no document type declaration: a BOM, then only white space,
# comments and processing instructions (the XML declaration among them) up to
# the root's start tag. Each alternative stops at its own terminator (XML
# forbids "--" in a comment and "?>" in an instruction), so a match can never
# reach across a DOCTYPE by stretching a comment over it, and none backtracks.
_PROLOG_WITHOUT_DOCTYPE = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:\s|<!--(?:[^-]|-[^-])*+-->|<\?(?:[^?]|\?(?!>))*+\?>)*+<[^!?]"
)
# An XML declaration readable byte by byte that names a two- or four-byte
# encoding cannot be telling the truth: those encodings spell "<?xml" otherwise.
_WIDE_ENCODING_DECLARED = re.compile(
    rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*["']"""
    rb"""(?P<name>(?:utf-?(?:16|32)|ucs-?[24]|iso-10646-ucs-[24])[^"']*)["']""",
    re.IGNORECASE,
)
# libxml2's advice to its own callers, which an uploader cannot follow.
_HUGE_HINT = re.compile(r",?\s*(?:use|try) XML_PARSE_HUGE(?: option)?", re.IGNORECASE)
_HUGE_EXPLANATION = " (a safety limit of the XML parser, which Suitescope never lifts)"


def parser_options() -> dict:
    """Keyword arguments for ``etree.XMLParser`` and ``etree.iterparse``."""
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def check_prolog(data: bytes) -> None:
    """Refuse what the prolog gives away: a lying encoding, an entity declaration."""
    refuse_lying_encoding(data)
    refuse_entity_declarations(data)


def refuse_lying_encoding(data: bytes) -> None:
    """Raise ``MalformedReport`` for a UTF-16 or UTF-32 declaration on single bytes.

    libxml2 would switch decoders mid-declaration and report "Blank needed
    here"; this says what is wrong. Other lies (Latin-1 bytes declared
    UTF-8) surface as invalid bytes at their line and column.
    """
    declared = _WIDE_ENCODING_DECLARED.match(data[:_PROLOG_SCAN_BYTES])
    if declared is None:
        return
    name = declared["name"].decode("ascii", "replace")
    raise MalformedReport(
        f'the XML declaration says encoding="{name}", but the file is not {name}: '
        "declare the encoding it is written in (usually UTF-8)",
        line=1,
        column=declared.start("name") + 1 - data.startswith(b"\xef\xbb\xbf") * 3,
    )


def refuse_entity_declarations(data: bytes) -> None:
    """Raise ``ForbiddenXml`` when the document type declares an entity.

    A scan of the head finds the usual case, with its line. A declaration
    beyond it (a prolog padded with comments, a long internal subset) or in
    UTF-16 is left to libxml2 itself, which reads no further than the root's
    start tag to say whether the internal DTD declares any entity.
    """
    head = data[:_PROLOG_SCAN_BYTES]
    doctype = _DOCTYPE.search(head)
    if doctype is not None:
        entity = _ENTITY.search(data, doctype.end(), doctype.end() + _PROLOG_SCAN_BYTES)
        if entity is not None:
            raise _forbidden(data, entity.start())
    # Entities can only be declared in a DOCTYPE, before the root. When the head
    # shows the root with none before it, there is nothing to check; otherwise
    # libxml2 reads up to the root and says. (A scan of the whole document for
    # "<!ENTITY" cost a 26 MB report 19 ms, a twentieth of its parse.)
    may_declare = _is_wide(head) or not _PROLOG_WITHOUT_DOCTYPE.match(head)
    if may_declare and _internal_dtd_declares_entities(data):
        raise _forbidden(data, data.find(b"<!ENTITY"))


def _is_wide(head: bytes) -> bool:
    """UTF-16 or UTF-32, where markup is not spelled in single bytes."""
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]


def _forbidden(data: bytes, position: int) -> ForbiddenXml:
    line = data.count(b"\n", 0, position) + 1 if position >= 0 else None
    return ForbiddenXml(
        "XML entity declarations are not accepted (they are never expanded)", line=line
    )


def _internal_dtd_declares_entities(data: bytes) -> bool:
    events = etree.iterparse(io.BytesIO(data), events=("start",), **parser_options())
    try:
        for _, root in events:
            dtd = root.getroottree().docinfo.internalDTD
            return dtd is not None and any(True for _ in dtd.iterentities())
    except etree.XMLSyntaxError as error:
        # libxml2 expands entities in attribute values even when told not to
        # substitute them, and stops at its amplification limit, or at a loop.
        if "entit" in str(error).lower():
            return True
        raise syntax_error(error) from None
    return False


def syntax_error(error: etree.XMLSyntaxError) -> MalformedReport:
    """Turn lxml's error into ours, keeping line and column."""
    line, column = error.position if error.position else (None, None)
    message = getattr(error, "msg", None) or str(error)
    message = re.sub(r",? line \d+, column \d+\s*$", "", message).strip()
    message = _HUGE_HINT.sub(_HUGE_EXPLANATION, message)
    return MalformedReport(f"malformed XML: {message}", line=line or None, column=column or None)


def parse_xml(data: bytes) -> etree._Element:
    """Parse a whole XML document and return its root element."""
    check_prolog(data)
    parser = etree.XMLParser(**parser_options())
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None
    if root is None:
        raise MalformedReport("malformed XML: the document is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None and list(docinfo.internalDTD.iterentities()):
        raise ForbiddenXml("XML entity declarations are not accepted (they are never expanded)")
    return root


def local_name(element: etree._Element) -> str:
    """An element's tag without its namespace."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
