"""An Atom feed (RFC 4287) of reported absences, built with ElementTree. Pure."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

ATOM = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# Entry and feed ids are name-based UUIDs in this namespace: the same absence always has
# the same entry id, so a feed reader updates the entry when the absence changes.
_NAMESPACE = uuid.UUID("a03bcba5-0268-4d38-8bc3-bf50143622f2")


def absence_entry_id(reference: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'absence:{reference}')}"


def feed_id(token_hash: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'staff-feed:{token_hash}')}"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    title: str
    summary: str
    published: datetime
    updated: datetime
    link: str
    category: str


@dataclass(frozen=True, slots=True)
class Feed:
    id: str
    title: str
    author: str
    self_link: str
    alternate_link: str
    updated: datetime
    entries: Sequence[Entry]


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def atom_document(feed: Feed) -> bytes:
    root = ET.Element("feed", {"xmlns": ATOM})
    _add(root, "id", feed.id)
    _add(root, "title", feed.title)
    _add(root, "updated", _when(feed.updated))
    author = _add(root, "author")
    _add(author, "name", feed.author)
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_link)
    _add(root, "link", rel="alternate", type="text/html", href=feed.alternate_link)
    _add(root, "generator", "Absence line")
    for item in feed.entries:
        entry = _add(root, "entry")
        _add(entry, "id", item.id)
        _add(entry, "title", item.title)
        _add(entry, "published", _when(item.published))
        _add(entry, "updated", _when(item.updated))
        _add(entry, "link", rel="alternate", type="text/html", href=item.link)
        _add(entry, "category", term=item.category)
        _add(entry, "summary", item.summary, type="text")
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
