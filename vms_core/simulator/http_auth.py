"""HTTP Digest (RFC 7616, MD5, qop=auth) and Basic authentication, server side, as the
snapshot endpoints of cameras require it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time

NONCE_LIFETIME_S = 300.0
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()  # noqa: S324 -- Digest MD5 is what cameras speak


def parse_auth_params(value: str) -> dict[str, str]:
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(value)
    }


class HttpAuthenticator:
    """Checks Authorization headers for one user. Nonces are stateless: a timestamp signed
    with a per-process secret, so no table grows with the number of requests."""

    def __init__(self, realm: str, username: str, password: str, reject_all: bool = False) -> None:
        self.realm = realm
        self.username = username
        self.password = password
        self.reject_all = reject_all
        self._secret = secrets.token_bytes(16)

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:24]

    def new_nonce(self) -> str:
        stamp = f"{time.time():.3f}"
        return f"{stamp}-{self._sign(stamp)}"

    def _nonce_valid(self, nonce: str) -> bool:
        stamp, _, signature = nonce.partition("-")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return False
        try:
            return time.time() - float(stamp) < NONCE_LIFETIME_S
        except ValueError:
            return False

    def challenge(self) -> str:
        return f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, nonce="{self.new_nonce()}"'

    def check(self, method: str, authorization: str | None) -> bool:
        if self.reject_all or not authorization:
            return False
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode()
            except (binascii.Error, ValueError):  # not Base64, not ASCII, not UTF-8
                return False
            user, _, password = decoded.partition(":")
            return hmac.compare_digest(user, self.username) and hmac.compare_digest(
                password, self.password
            )
        if scheme.lower() != "digest":
            return False
        params = parse_auth_params(rest)
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(key not in params for key in needed):
            return False
        if params["username"] != self.username or params["realm"] != self.realm:
            return False
        if not self._nonce_valid(params["nonce"]):
            return False
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{params['uri']}")
        if params.get("qop") == "auth":
            expected = _md5(
                f"{ha1}:{params['nonce']}:{params.get('nc', '')}:{params.get('cnonce', '')}"
                f":auth:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{params['nonce']}:{ha2}")
        return hmac.compare_digest(params["response"], expected)
