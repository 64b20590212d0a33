"""A small keep-alive HTTP/1.1 client on asyncio streams, for load benchmarks on one machine.

The benchmark's clients share the two cores with the server they measure. httpx spent about 2.8 ms of CPU
per request there (half a core at 175 requests a second), CPU that a real club's browsers spend on their
own machines. This client does the few things the benchmark needs (cookies, form and multipart bodies,
JSON, Content-Length and chunked answers, concurrent requests on a few connections) with a tenth of that.
It offers the part of httpx.AsyncClient's interface that bench/server_load.py uses, so either can drive it.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


class HTTPError(Exception):
    """The connection failed or the answer was not HTTP/1.1 this client understands."""


class TimeoutException(HTTPError):
    """No whole answer within the client's time-out."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    content: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request, read its answer; also whether the connection may be used again."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HTTPError(f"not an HTTP/1.x status line: {lines[0]!r}")
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, cookie = pair.partition("=")
                cookies[key.strip()] = cookie.strip()
            headers[name] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")  # no trailers are sent to us
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        reusable = headers.get("connection", "").lower() != "close"
        return Response(int(parts[1]), headers, body, cookies), reusable

    def close(self) -> None:
        self.writer.close()


class AsyncClient:
    """Requests to one `base_url`, with a cookie jar, on at most `connections` keep-alive connections."""

    def __init__(self, base_url: str, timeout: float = 30.0, connections: int = 4) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(connections)

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Response:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        json: Any = None,
    ) -> Response:
        if params:
            path += "?" + urlencode(params)
        body, content_type = b"", None
        if files is not None:
            body, content_type = _multipart(data or {}, files)
        elif data is not None:
            body, content_type = urlencode(data).encode(), "application/x-www-form-urlencoded"
        elif json is not None:
            body, content_type = jsonlib.dumps(json).encode(), "application/json"
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if content_type:
            head.append(f"Content-Type: {content_type}")
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        async with self._slots:
            connection = self._take_idle()
            try:
                async with asyncio.timeout(self.timeout):
                    if connection is not None:
                        try:
                            response, reusable = await connection.exchange(request)
                        except (ConnectionError, asyncio.IncompleteReadError) as exc:
                            # The server closed this kept-alive connection as it went idle (uvicorn after
                            # 5 s) before our request reached it: send it again on a new one, as browsers do.
                            if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                                raise
                            connection.close()
                            connection = None
                    if connection is None:
                        connection = _Connection(*await asyncio.open_connection(self.host, self.port))
                        response, reusable = await connection.exchange(request)
            except TimeoutError as exc:
                if connection is not None:
                    connection.close()
                raise TimeoutException(f"{method} {path}: no answer within {self.timeout} s") from exc
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                if connection is not None:
                    connection.close()
                raise HTTPError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            if reusable:
                self._idle.append(connection)
            else:
                connection.close()
        self.cookies.update(response.cookies)
        return response

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof():
                return connection
            connection.close()  # closed by the server meanwhile
        return None

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        out.append(part.encode())
    for name, (filename, content, media_type) in files.items():
        out.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {media_type}\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"
