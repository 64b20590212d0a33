"""Hostile GPX/TCX: entity bombs, external entities, XInclude, wrong roots, huge and broken files.

Each must end in a one-line reason, return nothing, never read a local file or the network, and stay
within time and memory bounds.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from strideguard.activities.formats import read_bytes, read_file
from strideguard.activities.formats.errors import CorruptFile, FileRejected, LimitExceeded, UnsupportedFile
from strideguard.activities.formats.gpx import read_gpx
from strideguard.activities.formats.tcx import read_tcx
from strideguard.activities.formats.xmlsafe import iter_events
from strideguard.config import Limits

GPX_HEAD = '<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1">'
TRACK = (
    "<trk><trkseg>"
    '<trkpt lat="45.0" lon="7.0"><time>2024-05-01T07:00:00Z</time></trkpt>'
    '<trkpt lat="45.001" lon="7.0"><time>2024-05-01T07:00:30Z</time></trkpt>'
    "</trkseg></trk>"
)
SECRET = Path("/etc/passwd")


@pytest.fixture
def secret_text() -> str:
    """A line of a local file that an external entity might try to pull in."""
    if not SECRET.is_file():
        pytest.skip("/etc/passwd not present")
    return SECRET.read_text().splitlines()[0]


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'<!ENTITY leak "network was read">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request made to it."""
    _CountingHandler.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/evil", _CountingHandler.hits
    finally:
        server.shutdown()
        server.server_close()


def _assert_clean_rejection(exc: FileRejected, *forbidden: str) -> None:
    message = str(exc)
    assert message and "\n" not in message
    assert "Traceback" not in message
    for text in forbidden:
        assert text not in message


def _reject(data: bytes, reader=read_gpx, *forbidden: str, limits: Limits | None = None) -> FileRejected:
    with pytest.raises(FileRejected) as info:
        reader(data, limits or Limits())
    _assert_clean_rejection(info.value, *forbidden)
    return info.value


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE gpx [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10)
    )
    + "]>\n"
    + GPX_HEAD
    + "<trk><name>&lol9;</name>"
    + TRACK[5:]
    + "</gpx>"
).encode()


def test_billion_laughs_is_refused_before_parsing() -> None:
    started = time.monotonic()
    exc = _reject(BILLION_LAUGHS)
    assert "DOCTYPE" in str(exc)
    assert time.monotonic() - started < 1.0


def test_the_parser_itself_does_not_expand_entities() -> None:
    # Second line of defence: even if a DOCTYPE got past the prolog check, libxml2 is configured not to
    # expand entities, so the bomb never grows (lxml leaves the reference unexpanded or refuses it).
    started = time.monotonic()
    texts: list[str] = []
    try:
        for _event, element in iter_events(BILLION_LAUGHS, ("{*}name",), max_seconds=5, events=("end",)):
            texts.append("".join(element.itertext()))
    except CorruptFile:
        pass
    assert all("lol" not in text for text in texts)
    assert time.monotonic() - started < 1.0


def test_external_entity_to_a_local_file_is_never_read(secret_text: str) -> None:
    data = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file://{SECRET}">]>'
        f"{GPX_HEAD}<trk><name>&xxe;</name>{TRACK[5:]}</gpx>"
    ).encode()
    _reject(data, read_gpx, secret_text)
    texts: list[str] = []
    try:
        for _event, element in iter_events(data, ("{*}name",), max_seconds=5, events=("end",)):
            texts.append("".join(element.itertext()))
    except CorruptFile as exc:
        assert secret_text not in str(exc)
    assert all(secret_text not in text for text in texts)


def test_external_entity_and_dtd_urls_never_touch_the_network(http_url: tuple[str, list[str]]) -> None:
    url, hits = http_url
    entity = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY net SYSTEM "{url}">]>'
        f"{GPX_HEAD}<trk><name>&net;</name>{TRACK[5:]}</gpx>"
    ).encode()
    external_dtd = f'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "{url}.dtd">{GPX_HEAD}{TRACK}</gpx>'.encode()
    parameter = (
        f'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY % p SYSTEM "{url}.ent"> %p;]>{GPX_HEAD}{TRACK}</gpx>'
    ).encode()
    for data in (entity, external_dtd, parameter):
        _reject(data, read_gpx, "network was read")
        try:  # and the bare parser, bypassing the DOCTYPE refusal
            for _event, element in iter_events(data, ("{*}name",), max_seconds=5, events=("end",)):
                assert "network was read" not in "".join(element.itertext())
        except CorruptFile:
            pass
    time.sleep(0.2)
    assert hits == []


def test_xinclude_is_not_processed(secret_text: str) -> None:
    data = (
        f'{GPX_HEAD[:-1]} xmlns:xi="http://www.w3.org/2001/XInclude"><trk>'
        f'<name><xi:include href="{SECRET}" parse="text"/></name><desc>x</desc>{TRACK[5:]}</gpx>'
    ).encode()
    [activity] = read_gpx(data)
    assert secret_text not in (activity.name or "") + (activity.description or "")


def test_doctype_with_internal_subset_is_refused() -> None:
    data = f'<?xml version="1.0"?><!DOCTYPE gpx [<!ELEMENT gpx ANY>]>{GPX_HEAD}{TRACK}</gpx>'.encode()
    assert "DOCTYPE" in str(_reject(data))
    tcx = b"<!DOCTYPE TrainingCenterDatabase><TrainingCenterDatabase/>"
    assert "DOCTYPE" in str(_reject(tcx, read_tcx))


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><trkpt lat="1" lon="2"/></svg>'


def test_svg_named_gpx_is_neither_gpx_nor_tcx() -> None:
    with pytest.raises(UnsupportedFile, match="neither GPX nor TCX"):
        read_bytes(SVG, "drawing.gpx")
    with pytest.raises(UnsupportedFile, match=r"not a GPX file: the root element is <svg>"):
        read_gpx(SVG)
    with pytest.raises(UnsupportedFile, match=r"not a TCX file: the root element is <gpx>"):
        read_tcx(f"{GPX_HEAD}{TRACK}</gpx>".encode())


def _measure(build: str) -> tuple[int, str, int]:
    """Build a file with the expression `build` in a fresh interpreter, read it through read_bytes, and
    return (size in MB, reason or "accepted", peak memory growth in MB while reading)."""
    script = textwrap.dedent(
        f"""
        import resource
        from strideguard.activities.formats import read_bytes
        from strideguard.activities.formats.errors import FileRejected
        data = {build}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            read_bytes(data, "hostile.gpx")
        except FileRejected as exc:
            reason = str(exc)
        else:
            reason = "accepted"
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(len(data) // 1_000_000, reason, round(grown_mb), sep="|")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    size_mb, reason, grown_mb = done.stdout.strip().split("|")
    return int(size_mb), reason, int(grown_mb)


HEAD_BYTES = "b'<gpx xmlns=\"http://www.topografix.com/GPX/1/1\">'"


def test_a_million_point_gpx_is_refused_with_bounded_memory() -> None:
    # Compact points (29 bytes) keep the file (29 MB) under the 64 MiB size cap: the point limit must act.
    size_mb, reason, grown_mb = _measure(
        f"{HEAD_BYTES} + b'<trk><trkseg>' + b'<trkpt lat=\"45.0\" lon=\"7.0\"/>' * 1_000_000"
        " + b'</trkseg></trk></gpx>'"
    )
    assert size_mb == 29
    assert reason == "more than 400000 track points"
    # The parser frees each point once read: memory grows by the column lists (~45 MB measured for 400k
    # points), not by a tree (lxml's full parse of this file takes ~540 MB, ~215 MB for 400k points).
    assert grown_mb < 150


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        # 10 million empty elements inside one point's <extensions> (40 MB): ~1.2 GB as a tree.
        (
            f"{HEAD_BYTES} + b'<trk><trkseg><trkpt lat=\"1\" lon=\"2\"><extensions>' + b'<a/>' * 10_000_000"
            " + b'</extensions></trkpt></trkseg></trk></gpx>'",
            "no timestamps",
        ),
        # 2 million waypoints (44 MB), which no reader asks for.
        (f"{HEAD_BYTES} + b'<wpt lat=\"1\" lon=\"2\"/>' * 2_000_000 + b'</gpx>'", "no track points"),
    ],
)
def test_masses_of_unread_elements_do_not_pile_up_in_memory(build: str, reason: str) -> None:
    size_mb, found, grown_mb = _measure(build)
    assert size_mb >= 40
    assert reason in found
    # Unread elements are pruned after every chunk (measured: ~0 MB growth; 1.2 GB without pruning).
    assert grown_mb < 100


def test_deeply_nested_elements_are_refused() -> None:
    data = f"{GPX_HEAD}{'<extensions>' * 100_000}{'</extensions>' * 100_000}</gpx>".encode()
    exc = _reject(data)
    assert "nested too deeply" in str(exc)


def test_invalid_utf8_is_refused(data_dir: Path) -> None:
    text = (data_dir / "gpx" / "sportslib__garmin.gpx").read_bytes()
    broken = text.replace(b"<type>running</type>", b"<type>run\xff\xfening</type>")
    assert "not well-formed XML" in str(_reject(broken))


def test_truncated_files_are_refused(data_dir: Path) -> None:
    gpx = (data_dir / "gpx" / "sportslib__garmin.gpx").read_bytes()
    tcx = (data_dir / "tcx" / "sportslib__movescount.tcx").read_bytes()
    assert "not well-formed XML" in str(_reject(gpx[: len(gpx) // 2]))
    assert "not well-formed XML" in str(_reject(tcx[: len(tcx) // 2], read_tcx))


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\xef\xbb\xbf"])
def test_empty_files_are_refused(data: bytes) -> None:
    assert str(_reject(data)) == "empty file"
    assert str(_reject(data, read_tcx)) == "empty file"


def test_huge_text_node_is_refused() -> None:
    data = f"{GPX_HEAD}<trk><name>{'x' * 11_000_000}</name>{TRACK[5:]}</gpx>".encode()
    assert isinstance(_reject(data), CorruptFile)


def test_non_xml_content_is_refused() -> None:
    assert "does not start with XML" in str(_reject(b"lat,lon\n45,7\n"))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bomb.gpx", BILLION_LAUGHS),
        ("svg.gpx", SVG),
        ("cut.tcx", b'<TrainingCenterDatabase xmlns="x"><Activities><Activity Sport="Running"><Lap'),
        ("nested.gpx", f"{GPX_HEAD}{'<a>' * 5000}".encode()),
        ("empty.tcx", b""),
    ],
)
def test_bad_files_become_one_line_failures_in_a_batch(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    outcome = read_file(path)
    assert outcome.activities == ()
    assert outcome.failed and "\n" not in outcome.failed and "Traceback" not in outcome.failed


def test_time_limit_is_a_limit_error() -> None:
    data = f"{GPX_HEAD}{TRACK}</gpx>".encode()
    with pytest.raises(LimitExceeded, match="parsing took longer than"):
        read_gpx(data, Limits(max_seconds=-1))
