"""The listening sockets of `serve --workers N`: on Linux, one per server process on the same port.

uvicorn's process manager binds one socket and every process accepts from it. A kept-alive connection stays
with the process that accepted it, and when many browsers connect at once the process that wakes first
takes everything waiting: of 40 connections opened at once, 39 or 40 went to one of two processes in seven
runs of eight, and under the club benchmark one process held 51 open sockets and the other 25, database
connections included (docs/web.md, fifth round). With
SO_REUSEPORT each process listens on a socket of its own and the kernel spreads new connections over them
by a hash of their addresses: 15-23 against 17-25 of 40.

uvicorn hands its processes the socket it was given; `ReservedPort` is that socket. In the parent it only
holds the port (bound, never listening, so no connection waits on it); a process that receives it gets a
listening socket of its own on the same port instead (`__reduce_ex__`), so uvicorn's process model is used
as it is. Elsewhere than Linux (SO_REUSEPORT there does not spread connections) uvicorn's own socket stays.
"""

from __future__ import annotations

import socket
import sys


class ReservedPort(socket.socket):
    """A bound socket that holds the port; each process it is sent to gets its own socket on that port."""

    def __reduce_ex__(self, _protocol: object) -> tuple[object, tuple[object, ...]]:
        return own_socket, (self.family, self.getsockname())


def _shared(family: int, cls: type[socket.socket] = socket.socket) -> socket.socket:
    sock = cls(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def reserve(host: str, port: int) -> socket.socket | None:
    """A `ReservedPort` on host:port, or None where sockets cannot share a port evenly (not Linux)."""
    if sys.platform != "linux" or not hasattr(socket, "SO_REUSEPORT"):
        return None
    sock = _shared(socket.AF_INET6 if ":" in host else socket.AF_INET, ReservedPort)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def own_socket(family: int, address: tuple[object, ...]) -> socket.socket:
    """A server process's socket on the reserved address (uvicorn then listens on it)."""
    sock = _shared(family)
    sock.bind(address)
    return sock
