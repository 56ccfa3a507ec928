"""Personal data at rest: AES-GCM encryption, keyed hashes for look-ups, and masks for responses.

身份证号 and phone numbers are stored only encrypted; equality look-ups use an HMAC of the normalized value
with a key derived from the same secret, so the database never holds them in the clear.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class PiiDecryptError(ValueError):
    """Stored personal data that this key cannot open (another key, another field, or damaged)."""


class PiiCipher:
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("the PII key must be 32 bytes")
        self._aead = AESGCM(key)
        self._hash_key = hmac.new(key, b"zhangban pii lookup v1", hashlib.sha256).digest()

    def encrypt(self, value: str | None, *, context: str = "") -> str | None:
        if value is None:
            return None
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str | None, *, context: str = "") -> str | None:
        """The clear value; PiiDecryptError for a token that is damaged, of another field, or of another key."""
        if token is None:
            return None
        try:
            raw = base64.b64decode(token.removeprefix(_PREFIX), validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, ValueError):   # binascii.Error and UnicodeDecodeError are ValueErrors
            raise PiiDecryptError(f"a {context or 'personal data'} value cannot be decrypted") from None

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._hash_key, value.strip().upper().encode(), hashlib.sha256).hexdigest()


_cipher: PiiCipher | None = None


def configure(key: bytes) -> None:
    global _cipher
    _cipher = PiiCipher(key)


def cipher() -> PiiCipher:
    if _cipher is None:
        raise RuntimeError("core.pii.configure() was not called")
    return _cipher


def mask(value: str | None) -> str | None:
    """Keep the first three and last four characters: 110***********1234 (身份证号), 138****5678 (phone)."""
    if not value:
        return value
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
