"""RTSP authentication: Basic and Digest (RFC 2617, MD5, with and without qop=auth)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Literal

AuthScheme = Literal["digest", "basic"]
NONCE_LIFETIME_S = 300.0

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]*)\s*,?')


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one username/password pair a stream accepts."""

    username: str
    password: str
    realm: str = "vms"
    schemes: tuple[AuthScheme, ...] = ("digest", "basic")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def digest_response(
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop_auth: tuple[str, str] | None = None,
) -> str:
    """The RFC 2617 MD5 ``response``; ``qop_auth`` is (nc, cnonce) for qop=auth."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop_auth is None:
        return _md5(f"{ha1}:{nonce}:{ha2}")
    nc, cnonce = qop_auth
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")


def parse_auth_params(text: str) -> dict[str, str]:
    """``key=value, key="quoted value"`` pairs of an Authorization header."""
    params: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None or match.end() == position:
            break
        key, raw, quoted = match.group(1), match.group(2), match.group(3)
        params[key.lower()] = quoted.replace('\\"', '"') if quoted is not None else raw
        position = match.end()
    return params


class NonceIssuer:
    """Stateless nonces: issue time plus an HMAC over it, so they can expire and not be forged."""

    def __init__(self, lifetime_s: float = NONCE_LIFETIME_S) -> None:
        self._key = secrets.token_bytes(32)
        self.lifetime_s = lifetime_s

    def issue(self) -> str:
        stamp = f"{time.time():.3f}"
        return f"{stamp}:{self._sign(stamp)}"

    def check(self, nonce: str) -> Literal["valid", "stale", "invalid"]:
        stamp, _, signature = nonce.partition(":")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return "invalid"
        try:
            issued = float(stamp)
        except ValueError:
            return "invalid"
        return "valid" if time.time() - issued <= self.lifetime_s else "stale"

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]


class Authenticator:
    """Checks Authorization headers against a stream's credentials and builds challenges."""

    def __init__(self, nonces: NonceIssuer | None = None) -> None:
        self.nonces = nonces or NonceIssuer()

    def challenges(self, credentials: Credentials, stale: bool = False) -> list[str]:
        """WWW-Authenticate values, Digest first (clients pick the first they support)."""
        out: list[str] = []
        if "digest" in credentials.schemes:
            value = (
                f'Digest realm="{credentials.realm}", nonce="{self.nonces.issue()}", '
                f'algorithm=MD5, qop="auth"'
            )
            out.append(value + (", stale=TRUE" if stale else ""))
        if "basic" in credentials.schemes:
            out.append(f'Basic realm="{credentials.realm}"')
        return out

    def check(
        self, credentials: Credentials, method: str, authorization: str | None
    ) -> Literal["ok", "denied", "stale"]:
        if not authorization:
            return "denied"
        scheme, _, rest = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and "basic" in credentials.schemes:
            return "ok" if self._check_basic(credentials, rest.strip()) else "denied"
        if scheme == "digest" and "digest" in credentials.schemes:
            return self._check_digest(credentials, method, parse_auth_params(rest))
        return "denied"

    @staticmethod
    def _check_basic(credentials: Credentials, token: str) -> bool:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, sep, password = decoded.partition(":")
        expected = f"{credentials.username}:{credentials.password}"
        return bool(sep) and hmac.compare_digest(f"{username}:{password}", expected)

    def _check_digest(
        self, credentials: Credentials, method: str, params: dict[str, str]
    ) -> Literal["ok", "denied", "stale"]:
        required = ("username", "realm", "nonce", "uri", "response")
        if any(key not in params for key in required):
            return "denied"
        if params["username"] != credentials.username or params["realm"] != credentials.realm:
            return "denied"
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm != "MD5":
            return "denied"
        qop = params.get("qop")
        if qop is None:
            qop_auth = None
        elif qop == "auth" and "nc" in params and "cnonce" in params:
            qop_auth = (params["nc"], params["cnonce"])
        else:
            return "denied"
        expected = digest_response(
            credentials.username,
            credentials.realm,
            credentials.password,
            method,
            params["uri"],
            params["nonce"],
            qop_auth,
        )
        if not hmac.compare_digest(expected, params["response"].lower()):
            return "denied"
        nonce_state = self.nonces.check(params["nonce"])
        if nonce_state == "valid":
            return "ok"
        return "stale" if nonce_state == "stale" else "denied"
