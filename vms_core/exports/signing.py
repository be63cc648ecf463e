"""The server's Ed25519 signing key for evidence packages.

Created on first use as ``<data dir>/export-signing.key`` (PKCS#8 PEM, mode 0600). Its
fingerprint, ``SHA256:`` + the hex SHA-256 of the raw 32-byte public key, is what a court
compares with the one the agency publishes for its server.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "export-signing.key"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    """The Ed25519 key in a PEM file; ValueError for anything else."""
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


class SigningKey:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public = private_key.public_key()
        self.fingerprint = fingerprint(self.public)

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SigningKey:
        """The key in ``data_dir``, created (0600, never replaced) if there is none. Blocking."""
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                # O_EXCL: two starts racing must not overwrite each other's key.
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as file:
                    file.write(pem)
                    file.flush()
                    os.fsync(file.fileno())
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return cls(key)

    def sign(self, data: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature (what ``openssl pkeyutl -verify -rawin``
        checks)."""
        return self._private.sign(data)

    def public_pem(self) -> bytes:
        return public_pem(self.public)
