"""Hardened, streaming XML parsing for GPX and TCX: no DTD, no entities, no network, bounded memory.

Activity files come from strangers (exports, uploads on a club server), so the parser must never expand
entities (billion laughs), read a local file or a URL (external entities, XInclude), or build an unbounded
tree. Defences, each enough on its own for its attack:

- Any DOCTYPE is refused before parsing: GPX and TCX never need one, and entities can only be declared in it.
- libxml2 runs with resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False and
  huge_tree=False (which keeps libxml2's own caps: nesting depth 256, text nodes 10 MB).
- XInclude is never processed (lxml only does so on an explicit `.xinclude()` call, which we never make).
- The document is fed in chunks to a pull parser that reports only the elements a reader asks for; the
  reader clears each element once read (`release`), so memory stays flat however many points there are.
- The root element is checked before any parsing, so an SVG named .gpx costs nothing.
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Iterator

from lxml import etree

from strideguard.activities.formats.errors import CorruptFile, LimitExceeded, UnsupportedFile

SAFE_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,
    "attribute_defaults": False,
    "recover": False,
}
CHUNK_BYTES = 256 * 1024
# An open element with more finished children than this is pruned (see `prune`). Far above what a
# reader needs kept (a <trk>'s name and type, an <Activity>'s Id and Creator next to its laps).
PRUNE_CHILDREN = 10_000

_WHITESPACE = b" \t\r\n"
_UTF16_32_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Prolog items allowed before the root element: the XML declaration and other processing instructions,
# comments and whitespace (XML 1.0, production [22]).
_PROLOG_ITEM = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_ROOT_TAG = re.compile(rb"\s*<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)[\s/>]")


def local_name(tag: object) -> str:
    """'{ns}trkpt' or 'trkpt' -> 'trkpt'; '' for comments and other non-element nodes."""
    if not isinstance(tag, str):
        return ""
    return tag[tag.rfind("}") + 1 :]


def normalise_start(data: bytes) -> bytes:
    """UTF-8 bytes that start at the first '<': BOM and leading whitespace dropped, UTF-16/32 transcoded.

    Strava writes TCX (and some GPX) with ~10 spaces before `<?xml ...?>`, which XML parsers reject as
    "XML declaration not at start" (GoldenCheetah issue #3149, GPSBabel #371): trimming fixes it.
    """
    for bom, codec in _UTF16_32_BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                raise CorruptFile(f"invalid {codec.upper()} text") from None
            # The declaration names the old encoding; the bytes handed on are UTF-8.
            data = _XML_DECLARATION.sub("", text, count=1).encode("utf-8")
            break
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    return data.lstrip(_WHITESPACE)


def root_local_name(data: bytes) -> str:
    """Local name of the root element, read from the prolog; refuses a DOCTYPE or a non-XML start."""
    position = 0
    while True:
        match = _PROLOG_ITEM.match(data, position)
        if match is None or match.end() == position:
            break
        position = match.end()
    rest = data[position : position + 64].lstrip(_WHITESPACE)
    if rest.startswith(b"<!DOCTYPE") or rest.startswith(b"<!doctype"):
        raise CorruptFile("XML with a DOCTYPE declaration refused (entities and DTDs are not allowed)")
    match = _ROOT_TAG.match(data, position)
    if match is None:
        raise CorruptFile("not well-formed XML: no root element found")
    return match.group(1).decode("ascii").rsplit(":", 1)[-1]


def prepare(data: bytes, root: str, kind: str) -> bytes:
    """Normalise the start of `data` and check that its root element is `root` (e.g. 'gpx').

    `kind` ('GPX', 'TCX') names the format in the error message.
    """
    data = normalise_start(data)
    if not data:
        raise CorruptFile("empty file")
    if not data.startswith(b"<"):
        raise CorruptFile(f"not a {kind} file: it does not start with XML")
    # Entities can only be declared inside a DOCTYPE, which root_local_name refuses in the prolog (and
    # libxml2 refuses anywhere else); this byte scan is a cheap second line of defence.
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise CorruptFile("XML with a DOCTYPE or ENTITY declaration refused (entities are not allowed)")
    found = root_local_name(data)
    if found != root:
        raise UnsupportedFile(f"not a {kind} file: the root element is <{found}>, expected <{root}>")
    return data


def _syntax_error(exc: etree.XMLSyntaxError) -> CorruptFile:
    lines = str(exc.msg or exc).strip().splitlines()
    message = lines[0].strip() if lines else "syntax error"
    if "Excessive depth" in message:
        return CorruptFile("not well-formed XML: elements nested too deeply")
    return CorruptFile(f"not well-formed XML: {message[:200]}")


def iter_events(
    data: bytes, tags: tuple[str, ...], *, max_seconds: float, events: tuple[str, ...] = ("start", "end")
) -> Iterator[tuple[str, etree._Element]]:
    """Yield (event, element) for the elements named in `tags` ('{*}trkpt' matches any namespace).

    `data` must come from `prepare`; `tags` should include the root element, so that `prune` can reach
    elements the reader never asked for. Raises CorruptFile on malformed XML and LimitExceeded when
    parsing takes more than `max_seconds` of this thread's CPU time (checked after every chunk).
    """
    started = time.thread_time()
    parser = etree.XMLPullParser(events=events, tag=tags, **SAFE_PARSER_OPTIONS)
    root: etree._Element | None = None
    try:
        for offset in range(0, len(data), CHUNK_BYTES):
            parser.feed(data[offset : offset + CHUNK_BYTES])
            for item in parser.read_events():
                if root is None:
                    root = item[1].getroottree().getroot()
                yield item
            if root is not None:
                prune(root)
            if time.thread_time() - started > max_seconds:
                raise LimitExceeded(f"parsing took longer than {max_seconds:g} s")
        parser.close()
        yield from parser.read_events()
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None


def prune(root: etree._Element, max_children: int = PRUNE_CHILDREN) -> None:
    """Drop the finished children of any open element that has piled up more than `max_children`.

    Readers free the elements they read (`release`), but elements nobody asked for (a million <wpt>, or
    junk inside an <extensions>) would otherwise stay in the tree until the end. Only the last child of an
    open element can still be open, and the events of every earlier one have been handled by the time
    this runs (after each chunk), so deleting them loses nothing a reader still needs.
    """
    node: etree._Element | None = root
    while node is not None:
        children = len(node)
        if children == 0:
            return
        if children > max_children:
            del node[: children - 1]
        node = node[-1]


def release(element: etree._Element) -> None:
    """Free an element that has been read, and its already-read earlier siblings (bounded memory)."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def child_text(element: etree._Element, name: str) -> str | None:
    """Stripped text of the first direct child with local name `name` (any namespace), else None."""
    for child in element:
        if local_name(child.tag) == name:
            text = child.text
            return text.strip() if text and text.strip() else None
    return None
