"""Security plumbing: response headers, CSRF tokens, signed session cookies, password hashing.

Standard library only (hashlib.scrypt, hmac, secrets). Pure helpers plus one ASGI middleware.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

SECRET_ENV = "STRIDEGUARD_SECRET_KEY"
SECRET_FILE = "web-secret.key"
CSRF_COOKIE = "sg_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "sg_session"
SESSION_MAX_AGE_S = 30 * 24 * 3600

# No 'unsafe-inline' anywhere: every script and style is a file under /static.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), screen-wake-lock=(self)"),
)

# scrypt parameters: N=2**14, r=8, p=1 (the interactive-login setting of Percival's scrypt paper, 2009).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def load_secret(data_dir: Path) -> bytes:
    """The key that signs cookies: STRIDEGUARD_SECRET_KEY, else a random key kept in the data folder."""
    env = os.environ.get(SECRET_ENV)
    if env:
        return env.encode()
    path = data_dir / SECRET_FILE
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = secrets.token_hex(32).encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64) for storing in UserRow.password_hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def make_session_token(secret: bytes, user_id: int, now: float | None = None) -> str:
    """'user_id.expiry.signature': an HMAC-SHA256 signed session value for the cookie."""
    expiry = int((now if now is not None else time.time()) + SESSION_MAX_AGE_S)
    payload = f"{user_id}.{expiry}"
    return f"{payload}.{_sign(secret, 'session:' + payload)}"


def read_session_token(secret: bytes, token: str | None, now: float | None = None) -> int | None:
    """The user id of a valid, unexpired session token, else None."""
    if not token:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(parts[2], _sign(secret, "session:" + payload)):
        return None
    if int(parts[1]) < (now if now is not None else time.time()):
        return None
    return int(parts[0])


def csrf_matches(cookie_value: str | None, submitted: str | None) -> bool:
    """Double-submit check: the token sent with the form equals the one in the browser's cookie."""
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(cookie_value.encode(), submitted.encode())


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is ignored, as browsers do
                return None
            if name in jar:
                return jar[name].value
    return None


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityMiddleware:
    """Adds the security headers to every response and gives each browser a CSRF cookie.

    The CSRF token is put in `scope["state"]["csrf_token"]` for templates; a new one is set as a
    SameSite=Strict cookie when the request had none.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], secure_cookies: bool = False):
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _cookie(scope.get("headers", []), CSRF_COOKIE)
        new_token = None
        if not token or len(token) < 20:
            token = new_token = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if new_token is not None:
                    secure = "; Secure" if self.secure_cookies else ""
                    cookie = f"{CSRF_COOKIE}={new_token}; Path=/; SameSite=Strict; HttpOnly{secure}"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
