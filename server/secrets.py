"""The master key and AES-256-GCM encryption of stored values.

Each ciphertext is bound to where it is stored (its table, workspace and path,
as associated data), so a value copied onto another row does not decrypt.
Layout: one version byte, a 12-byte nonce, then the GCM ciphertext and tag.

`cryptography` is loaded when a vault is made: ~6 MB a worker holds only once
a job has read a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets as random
from pathlib import Path

from server import errors, settings

VERSION = b"\x01"
NONCE_BYTES = 12
KEY_FILE = "secret.key"


def key_from_text(text: str) -> bytes:
    """A 32-byte key from a setting: base64 of 32 bytes as is, any other text hashed."""
    try:
        raw = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    return raw if len(raw) == 32 else hashlib.sha256(text.encode()).digest()


def new_key_text() -> str:
    return base64.urlsafe_b64encode(random.token_bytes(32)).decode()


def write_key_file(path: Path, key_text: str) -> None:
    """Write a key file readable by its owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key_text + "\n")
    temporary.replace(path)


def master_key(config: settings.Settings) -> bytes:
    """`TIDEMILL_SECRET_KEY`, else the key file in `$TIDEMILL_HOME` (created on first use)."""
    if config.secret_key:
        return key_from_text(config.secret_key)
    path = config.home / KEY_FILE
    if not path.exists():
        write_key_file(path, new_key_text())
    return key_from_text(path.read_text().strip())


class Vault:
    """Encrypts and decrypts values under one key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import aead

        self._aead = aead.AESGCM(key)
        self._key = key

    def derive(self, purpose: str) -> bytes:
        """A key for another use (e.g. signing resume URLs), derived so the master never leaves."""
        return hmac.new(self._key, b"tidemill derive\0" + purpose.encode(), "sha256").digest()

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = random.token_bytes(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, blob: bytes, *, context: str) -> bytes:
        if blob[:1] != VERSION:
            raise errors.TidemillError(f"{context}: unknown ciphertext format")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        from cryptography import exceptions

        try:
            return self._aead.decrypt(nonce, sealed, context.encode())
        except exceptions.InvalidTag:
            raise errors.TidemillError(
                f"{context}: cannot decrypt (was the master key changed?)"
            ) from None
