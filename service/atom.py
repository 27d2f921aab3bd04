"""A reader's feed as an Atom document (RFC 4287), written with the standard library's
`xml.etree.ElementTree`, which escapes every text and attribute."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
# Entry and feed ids are URNs derived from stable names: a paper keeps its id across polls,
# so feed readers show it once.
_NAMESPACE = uuid.UUID("0f6b8a52-3c1e-4d7e-8f0a-6c2b9d4e1a37")


def urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def timestamp(moment: datetime) -> str:
    """RFC 3339, in UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Entry:
    paper_id: str
    title: str
    link: str
    updated: datetime
    published: datetime | None
    authors: list[str]
    summary: str
    categories: list[str]


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        child.text = text
    return child


def document(
    feed_name: str, title: str, self_url: str, updated: datetime, entries: list[Entry]
) -> bytes:
    """The Atom feed document, UTF-8 with an XML declaration. A feed-level author covers
    entries whose paper names none (RFC 4287 4.1.1)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", urn(feed_name))
    _add(feed, "title", title)
    _add(feed, "updated", timestamp(updated))
    _add(feed, "link", rel="self", type=MEDIA_TYPE, href=self_url)
    _add(_add(feed, "author"), "name", "paperfeed")
    _add(feed, "generator", "paperfeed")
    for e in entries:
        entry = _add(feed, "entry")
        _add(entry, "id", urn(f"paper:{e.paper_id}"))
        _add(entry, "title", e.title)
        _add(entry, "link", rel="alternate", href=e.link)
        _add(entry, "updated", timestamp(e.updated))
        if e.published is not None:
            _add(entry, "published", timestamp(e.published))
        for name in e.authors:
            _add(_add(entry, "author"), "name", name)
        for term in e.categories:
            _add(entry, "category", term=term)
        if e.summary:
            _add(entry, "summary", e.summary, type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
