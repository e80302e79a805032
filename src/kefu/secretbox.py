"""Secrets at rest: Fernet with a key derived from KEFU_SECRET_KEY (HKDF-SHA256)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretDecryptError(RuntimeError):
    """A stored secret cannot be read: KEFU_SECRET_KEY changed since it was saved."""


class SecretBox:
    def __init__(self, secret_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"kefu", info=b"kefu-secrets-v1").derive(
            secret_key
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptError(
                "cannot decrypt a stored secret: KEFU_SECRET_KEY differs from the one it was saved with"
            ) from exc


def masked(secret: str) -> str:
    """What the console and API show of a secret: never more than its first and last two characters."""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:2]}{'•' * 6}{secret[-2:]}"
