"""Receiving an upload: the multipart body streamed to disk in chunks and checked while it arrives.

Starlette's `request.form()` spools every file to temporary disk before the handler can look at it, so a
stranger's 1 GiB upload was written in full before the 403, and the size limit could only be checked
afterwards. Here the body is parsed as it arrives (python-multipart's push parser): the byte count is
checked against the limit on every chunk, a file part is refused unless the form's CSRF token came before
it (the upload form puts the token first; scripts send the X-CSRF-Token header, checked before any byte is
read), and file data goes to its final place in the job folder in chunks of WRITE_CHUNK bytes, written in a
worker thread so the event loop never waits on the disk. No database connection is held meanwhile.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

WRITE_CHUNK = 1 << 20  # bytes gathered before one write to disk
MAX_FIELD_BYTES = 64 * 1024  # a text field of the upload form (token, sports choice) is a few bytes


class UploadRefused(Exception):
    """The upload cannot be accepted (`status`: 403 token, 413 too large, 400 not a form); says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ReceivedFile:
    """One file of the upload: the name it was sent with, the name it is stored under, its size."""

    sent_name: str
    stored_name: str
    size: int


@dataclass
class Received:
    """What arrived: complete files (stored), text fields, names refused, the partial file if cut off."""

    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    refused_names: list[str] = field(default_factory=list)
    too_many_files: int = 0
    bytes_received: int = 0
    partial: ReceivedFile | None = None  # the file being received when the body stopped


def safe_name(name: str) -> str:
    """The file's base name with anything but letters, digits, dot, dash and underscore replaced."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return cleaned[:150] or "upload"


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.filename: str | None = None
        self.text = bytearray()
        self.out: IO[bytes] | None = None
        self.buffer = bytearray()
        self.file: ReceivedFile | None = None
        self.discard = False


class _Receiver:
    """Turns the parser's callbacks into a list of events, handled (with awaits) after each chunk."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.header_name = bytearray()
        self.header_value = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        def header_end() -> None:
            self.events.append(("header", (bytes(self.header_name).lower(), bytes(self.header_value))))
            self.header_name.clear()
            self.header_value.clear()

        return {
            "on_part_begin": lambda: self.events.append(("begin", None)),
            "on_header_field": lambda data, start, end: self.header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self.header_value.extend(data[start:end]),
            "on_header_end": header_end,
            "on_headers_finished": lambda: self.events.append(("headers", None)),
            "on_part_data": lambda data, start, end: self.events.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self.events.append(("end", None)),
        }


async def receive(
    request: Request,
    folder: Path,
    *,
    max_bytes: int,
    max_files: int,
    allowed: Callable[[str], bool],
    token_ok: Callable[[str | None], bool] | None,
    received: Received | None = None,
) -> Received:
    """Stream the multipart body of `request` into `folder`; return what arrived.

    `token_ok` checks the form's CSRF field; None when the request header already carried a valid token.
    Files whose name `allowed` refuses are read past, not stored (their names are listed). Raises
    UploadRefused (nothing more is read) and ClientDisconnect; the caller removes the folder then. Pass
    `received` to see what had arrived when the task is cancelled (a server shutting down).
    """
    content_type = request.headers.get("content-type", "")
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadRefused(400, "Send the files as a multipart form (the import page's form does).")
    result = received if received is not None else Received()
    token_checked = token_ok is None
    used: set[str] = set()
    source = _Receiver()
    parser = MultipartParser(boundary, source.callbacks())  # type: ignore[arg-type]
    part = _Part()
    try:
        async for chunk in request.stream():
            result.bytes_received += len(chunk)
            if result.bytes_received > max_bytes:
                raise UploadRefused(
                    413, f"The upload is larger than this server accepts ({size_text(max_bytes)})."
                )
            parser.write(chunk)
            for event, value in source.events:
                if event == "begin":
                    part = _Part()
                elif event == "header":
                    part.headers[value[0]] = value[1]
                elif event == "headers":
                    token_checked = await _start_part(
                        part, folder, result, used, token_checked, max_files, allowed
                    )
                elif event == "data":
                    await _part_data(part, value)
                elif event == "end":
                    token_checked = await _end_part(part, result, token_checked, token_ok)
            source.events.clear()
        parser.finalize()
    except BaseException:
        if part.out is not None:
            out, part.out = part.out, None
            result.partial = part.file
            await asyncio.shield(asyncio.to_thread(out.close))
        raise
    return result


async def _start_part(
    part: _Part,
    folder: Path,
    result: Received,
    used: set[str],
    token_checked: bool,
    max_files: int,
    allowed: Callable[[str], bool],
) -> bool:
    _disposition, options = parse_options_header(part.headers.get(b"content-disposition", b""))
    part.name = options.get(b"name", b"").decode("utf-8", "replace")
    if b"filename" not in options:
        return token_checked
    if not token_checked:
        raise UploadRefused(
            403, "The form's security token is missing or out of date; reload the page and try again."
        )
    part.filename = options[b"filename"].decode("utf-8", "replace")
    if not part.filename:  # an empty file input sends a part without a name
        part.discard = True
        return token_checked
    if len(result.files) + len(result.refused_names) >= max_files:
        result.too_many_files += 1
        part.discard = True
        return token_checked
    if not allowed(part.filename):
        result.refused_names.append(part.filename)
        part.discard = True
        return token_checked
    name = safe_name(part.filename)
    stem, dot, suffix = name.partition(".")
    counter = 1
    while name.lower() in used:
        counter += 1
        name = f"{stem}-{counter}{dot}{suffix}"
    used.add(name.lower())
    part.file = ReceivedFile(part.filename, name, 0)
    part.out = await asyncio.to_thread(_open, folder / name)
    return token_checked


def _open(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb")


async def _part_data(part: _Part, data: bytes) -> None:
    if part.filename is None:
        part.text.extend(data)
        if len(part.text) > MAX_FIELD_BYTES:
            raise UploadRefused(413, f"The form field {part.name!r} is too long.")
        return
    if part.out is None:
        return  # a refused or empty file: read past it
    part.buffer.extend(data)
    assert part.file is not None
    part.file.size += len(data)
    if len(part.buffer) >= WRITE_CHUNK:
        block = bytes(part.buffer)
        part.buffer.clear()
        await asyncio.to_thread(part.out.write, block)


async def _end_part(
    part: _Part, result: Received, token_checked: bool, token_ok: Callable[[str | None], bool] | None
) -> bool:
    if part.filename is None:
        text = part.text.decode("utf-8", "replace")
        result.fields[part.name] = text
        if part.name == "csrf_token" and token_ok is not None and not token_checked:
            return token_ok(text)
        return token_checked
    if part.out is not None:
        out, block = part.out, bytes(part.buffer)
        part.out = None
        part.buffer.clear()
        await asyncio.to_thread(_finish, out, block)
        assert part.file is not None
        result.files.append(part.file)
    return token_checked


def _finish(out: IO[bytes], block: bytes) -> None:
    with out:
        out.write(block)


def size_text(n: int) -> str:
    """Bytes in words for messages: '4 GiB', '1.5 MiB'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
