"""WXBizMsgCrypt for WeCom callbacks (wecom-kf-api.md §2.4), on the `cryptography` package.

Plaintext layout: random(16) ‖ msg_len (4 bytes, big-endian) ‖ msg ‖ receiveid,
padded with PKCS#7 to a multiple of 32 bytes, AES-256-CBC with IV = key[:16],
Base64. Signature: sha1 over the sorted concatenation of token, timestamp,
nonce and the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
AES_KEY_PATTERN = re.compile(r"[A-Za-z0-9]{43}")


class CallbackCryptoError(ValueError):
    """A callback failed a check; `code` is the reference library's error code."""

    SIGNATURE = -40001
    BAD_AES_KEY = -40004
    RECEIVEID = -40005
    DECRYPT = -40007
    BUFFER = -40008
    BASE64 = -40010

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    parts = sorted([token, str(timestamp), str(nonce), encrypt])
    return hashlib.sha1("".join(parts).encode()).hexdigest()  # noqa: S324 — WeCom's scheme


def check_aes_key(encoding_aes_key: str) -> bytes:
    if not AES_KEY_PATTERN.fullmatch(encoding_aes_key or ""):
        raise CallbackCryptoError(
            CallbackCryptoError.BAD_AES_KEY, "EncodingAESKey must be exactly 43 letters or digits"
        )
    return base64.b64decode(encoding_aes_key + "=")


class CallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self.token = token
        self.key = check_aes_key(encoding_aes_key)
        self.receive_id = receive_id

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.sign(timestamp, nonce, encrypt)
        # Bytes, not str: compare_digest raises TypeError on a str with non-ASCII characters,
        # which a hostile query can send (it was a 5xx before the fuzz test found it).
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").lower().encode()):
            raise CallbackCryptoError(CallbackCryptoError.SIGNATURE, "signature does not match")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        body = message.encode()
        if random16 is not None and len(random16) != 16:
            raise ValueError("random16 must be exactly 16 bytes")
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypt: str) -> str:
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallbackCryptoError(CallbackCryptoError.BASE64, "ciphertext is not valid Base64") from exc
        if not raw or len(raw) % 16:
            raise CallbackCryptoError(
                CallbackCryptoError.DECRYPT, "ciphertext length is not a block multiple"
            )
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackCryptoError(CallbackCryptoError.DECRYPT, "bad padding (wrong EncodingAESKey?)")
        content = plain[16:-pad]
        if len(content) < 4:
            raise CallbackCryptoError(CallbackCryptoError.BUFFER, "plaintext too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise CallbackCryptoError(CallbackCryptoError.BUFFER, "message length exceeds plaintext")
        message, receive_id = content[4 : 4 + length], content[4 + length :]
        if receive_id.decode(errors="replace") != self.receive_id:
            raise CallbackCryptoError(CallbackCryptoError.RECEIVEID, "receiveid does not match this corp")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise CallbackCryptoError(CallbackCryptoError.DECRYPT, "message is not UTF-8") from exc
