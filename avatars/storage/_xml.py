"""Reading the store's XML answers without trusting them.

S3 answers in small, flat XML documents (an error, a listing page, an upload
id).  A hostile or broken store may send anything instead, so the parser here
refuses what no S3 answer has:

* a document type declaration (``<!DOCTYPE``): so no entity is ever declared,
  expanded (the "billion laughs" bomb) or fetched (external entities);
* nesting deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_ELEMENTS`
  elements.

It builds an ordinary :mod:`xml.etree.ElementTree` tree with expat directly
(the C ``XMLParser`` of ElementTree gives no hook to refuse a DOCTYPE), and
raises :class:`UnsafeXML` for a document it refuses, ElementTree's
``ParseError`` for one that is not well-formed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, NoReturn

if TYPE_CHECKING:  # pragma: no cover
    from xml.etree.ElementTree import Element

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "UnsafeXML", "parse"]

#: The deepest nesting accepted (a ListObjects page nests 3 deep).
MAX_DEPTH = 32
#: The most elements accepted in one answer (a full ListObjects page of 1000
#: objects has about 7000).
MAX_ELEMENTS = 200_000


class UnsafeXML(Exception):
    """Internal: a document the parser refuses (the reason is the message)."""


def parse(body: bytes) -> Element:
    """The root element of ``body``.

    :raises UnsafeXML: a DOCTYPE or entity declaration, too deep, too many elements.
    :raises xml.etree.ElementTree.ParseError: not well-formed XML, or in an
        encoding that cannot be read.
    """
    from xml.etree import ElementTree
    from xml.parsers import expat  # on first use, like ElementTree (about 0.5 MiB)

    builder = ElementTree.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    depth = 0
    count = 0

    def refuse(reason: str) -> NoReturn:
        raise UnsafeXML(reason)

    def start(tag: str, attributes: Dict[str, str]) -> None:
        nonlocal depth, count
        depth += 1
        count += 1
        if depth > MAX_DEPTH:
            refuse(f"XML nested deeper than {MAX_DEPTH} elements")
        if count > MAX_ELEMENTS:
            refuse(f"XML with more than {MAX_ELEMENTS} elements")
        # expat names a namespaced element "uri}local"; ElementTree "{uri}local".
        builder.start("{" + tag if "}" in tag else tag, attributes)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end("{" + tag if "}" in tag else tag)

    def doctype(*_: object) -> None:
        refuse("XML with a document type declaration (entities are refused)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    # No external entity is read even if one were declared (expat's default), but say it.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise ElementTree.ParseError(str(exc)) from None
    except (LookupError, ValueError) as exc:
        # The declared encoding: unknown or not a text codec (LookupError), one
        # expat cannot use (ValueError) or whose codec fails (UnicodeError).
        raise ElementTree.ParseError(f"unusable encoding: {exc}"[:200]) from None
    root: Element = builder.close()
    return root
