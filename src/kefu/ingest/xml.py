"""Safe parsing of WeCom's callback XML (defusedxml: no DTDs, no entities, no external references)."""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class BadXML(ValueError):
    """Malformed or hostile XML; the request gets 400 and nothing is stored."""


def parse_flat_xml(data: bytes | str) -> dict[str, str]:
    """Parse `<xml><Tag>text</Tag>…</xml>` into {Tag: text}, refusing DTDs and entities outright."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise BadXML(f"forbidden XML construct: {type(exc).__name__}") from exc
    except ParseError as exc:
        raise BadXML(f"malformed XML: {exc}") from exc
    except (LookupError, ValueError) as exc:
        # An encoding the declaration names but Python lacks (LookupError), or one expat cannot
        # read ("multi-byte encodings are not supported", e.g. gbk): found by the fuzz test as 5xx.
        raise BadXML(f"unreadable XML encoding: {exc}") from exc
    if root.tag != "xml":
        raise BadXML(f"unexpected root element <{root.tag}>")
    return {child.tag: (child.text or "").strip() for child in root}
