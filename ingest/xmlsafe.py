"""Parse untrusted XML with lxml, safely.

Entity declarations are refused outright (billion laughs, quadratic blow-up and
external entities all need one), external DTDs are never loaded and the parser
never touches the network. A DOCTYPE that only names an external DTD, as
coverage.py and JaCoCo write, is accepted.
"""

from __future__ import annotations

import re

from lxml import etree

from ingest.errors import ForbiddenXml, MalformedReport

# How far into the document a DOCTYPE may appear; it must precede the root.
_PROLOG_SCAN_BYTES = 64 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


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


def refuse_entity_declarations(data: bytes) -> None:
    """Raise ``ForbiddenXml`` when the prolog declares an entity."""
    head = data[:_PROLOG_SCAN_BYTES]
    doctype = _DOCTYPE.search(head)
    if doctype is None:
        return
    entity = _ENTITY.search(data, doctype.end(), doctype.end() + _PROLOG_SCAN_BYTES)
    if entity is not None:
        line = data.count(b"\n", 0, entity.start()) + 1
        raise ForbiddenXml(
            "XML entity declarations are not accepted (they are never expanded)", line=line
        )


def syntax_error(error: etree.XMLSyntaxError) -> MalformedReport:
    """Turn lxml's error into ours, keeping line and column."""
    line, column = error.position if error.position else (None, None)
    message = getattr(error, "msg", None) or str(error)
    message = re.sub(r",? line \d+, column \d+\s*$", "", message).strip()
    return MalformedReport(f"malformed XML: {message}", line=line or None, column=column or None)


def parse_xml(data: bytes) -> etree._Element:
    """Parse a whole XML document and return its root element."""
    refuse_entity_declarations(data)
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
