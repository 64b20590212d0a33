"""Security plumbing: response headers, CSRF tokens, signed session cookies, password hashing.

Standard library only (hashlib.scrypt, hmac, secrets). Pure helpers plus one ASGI middleware. The session
cookie holds only a random id; the sessions themselves are rows (storage/auth.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

SECRET_ENV = "STRIDEGUARD_SECRET_KEY"
SECRET_FILE = "web-secret.key"
CSRF_COOKIE = "sg_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "sg_session"
# Browsers that came over HTTPS once keep to it for a year (only sent on a secure request or behind a proxy).
HSTS = b"max-age=31536000"

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


def _derive(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """The one place the password hash is computed (tests count its calls: same work for every login)."""
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen)


def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64) for storing in UserRow.password_hash."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash from `hash_password` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = _derive(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Checked when the email has no account, so a login for an unknown address costs the same hash work as
# one for a known address (no timing difference tells which addresses have accounts).
_NO_ACCOUNT_HASH = (
    f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(b'strideguard-none').decode()}$"
    f"{base64.b64encode(bytes(32)).decode()}"
)


def verify_login(password: str, stored: str | None) -> bool:
    """`verify_password` against the account's hash, or the same work against a hash no password matches."""
    matched = verify_password(password, stored if stored is not None else _NO_ACCOUNT_HASH)
    return matched and stored is not None


def is_secure(scope: MutableMapping[str, Any], secure_cookies: bool) -> bool:
    """Whether cookies set in answer to this request should be Secure (HTTPS, or behind a TLS proxy)."""
    return secure_cookies or scope.get("scheme") == "https"


# Sec-Fetch-Site values of a request a page of this site made (or the user typed); others are cross-site.
SAME_SITE_FETCH = {"same-origin", "none"}


def cross_site(headers: MutableMapping[str, str] | Any, host: str | None) -> str | None:
    """Why a state-changing request comes from another site (by Sec-Fetch-Site or Origin), else None.

    Defence in depth next to the CSRF token: browsers send these headers and a page cannot forge them.
    A client that sends neither (curl, the CLI, old browsers) is judged by the token alone.
    """
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCH:
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = headers.get("origin")
    if origin is not None:
        scheme, _, netloc = origin.partition("://")
        if not netloc or host is None or _netloc(scheme, netloc) != _netloc(scheme, host):
            return f"Origin: {origin}"
    return None


def _netloc(scheme: str, netloc: str) -> str:
    """'Host:443' and 'host' are one origin for https (as are 'host:80' and 'host' for http)."""
    default = {"https": ":443", "http": ":80"}.get(scheme.lower(), "")
    netloc = netloc.lower().rstrip("/")
    return netloc.removesuffix(default) if default else netloc


def csrf_matches(cookie_value: str | None, submitted: str | None) -> bool:
    """Double-submit check: the token sent with the form equals the one in the browser's cookie."""
    if not cookie_value or not submitted:
        return False
    return hmac.compare_digest(cookie_value.encode(), submitted.encode())


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """The cookie `name`, split as `request.cookies` splits (the last of a repeated name wins; a part
    without "=" is skipped; a quoted value stays quoted, and then never matches a CSRF token). This runs on
    the event loop for every request: http.cookies' parser took 13 us there (this 1.5 us), and it dropped
    the whole header when one cookie in it was malformed."""
    found = None
    for key, value in headers:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key_text, equals, text = part.partition("=")
                if equals and key_text.strip() == name:
                    found = text.strip()
    return found


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class SecurityMiddleware:
    """Adds the security headers to every response and gives each browser a CSRF cookie.

    The CSRF token is put in `scope["state"]["csrf_token"]` for templates; a new one is set as a
    SameSite=Strict cookie when the request had none. A request that arrived over HTTPS (directly, or as
    a trusted proxy said) or any request with `secure_cookies` (serve --behind-proxy) gets Secure cookies
    and HSTS.
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
        secure = self.secure_cookies or scope.get("scheme") == "https"

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if secure:
                    headers.append((b"strict-transport-security", HSTS))
                if new_token is not None:
                    flag = "; Secure" if secure else ""
                    cookie = f"{CSRF_COOKIE}={new_token}; Path=/; SameSite=Strict; HttpOnly{flag}"
                    headers.append((b"set-cookie", cookie.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
