"""Callback crypto (wecom-kf-api.md §2.4): the official vector, round trips, tampering, and wechatpy as a
second, independent implementation."""

from __future__ import annotations

import base64
import random

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.utils import random_string

from kefu.wecom.crypto import CallbackCrypto, CallbackCryptoError, signature

try:  # wechatpy ≥ 2 calls it `work`, 1.x `enterprise`
    from wechatpy.work.crypto import WeChatCrypto
except ImportError:  # pragma: no cover - depends on the installed wechatpy
    from wechatpy.enterprise.crypto import WeChatCrypto

# The official vector (加解密方案说明).
CORP_ID = "wx5823bf96d3bd56c7"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
TIMESTAMP = "1409659813"
NONCE = "1372623149"
MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGU"
    "callcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDY"
    "A5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)
KF_EVENT = (
    "<xml><ToUserName><![CDATA[ww12345678910]]></ToUserName><CreateTime>1348831860</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
    "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
    "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>"
)

crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
aes_keys = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=43, max_size=43
)
messages = st.text(min_size=0, max_size=600)
bounded = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_official_vector() -> None:
    crypto.verify(MSG_SIGNATURE, TIMESTAMP, NONCE, ENCRYPT)
    assert crypto.sign(TIMESTAMP, NONCE, ENCRYPT) == MSG_SIGNATURE
    assert crypto.decrypt(ENCRYPT) == PLAINTEXT


def test_official_vector_padding_and_length() -> None:
    raw = base64.b64decode(ENCRYPT)
    assert len(raw) % 32 == 0
    # Encrypting again with the vector's own random prefix gives the vector back, byte for byte.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    assert plain[-1] == 30 and int.from_bytes(plain[16:20], "big") == 284
    assert crypto.encrypt(PLAINTEXT, random16=plain[:16]) == ENCRYPT


@bounded
@given(
    message=messages, aes_key=aes_keys, corp=st.sampled_from(["ww0123456789abcdef", "", "wx5823bf96d3bd56c7"])
)
def test_round_trip(message: str, aes_key: str, corp: str) -> None:
    box = CallbackCrypto("tok", aes_key, corp)
    encrypted = box.encrypt(message)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    box.verify(box.sign("1", "2", encrypted), "1", "2", encrypted)
    assert box.decrypt(encrypted) == message


@pytest.mark.parametrize("position", [0, 20, 100, len(ENCRYPT) - 5])
def test_tampered_ciphertext_fails_the_signature(position: int) -> None:
    replacement = "A" if ENCRYPT[position] != "A" else "B"
    tampered = ENCRYPT[:position] + replacement + ENCRYPT[position + 1 :]
    with pytest.raises(CallbackCryptoError) as caught:
        crypto.verify(MSG_SIGNATURE, TIMESTAMP, NONCE, tampered)
    assert caught.value.code == CallbackCryptoError.SIGNATURE


@pytest.mark.parametrize("field", ["timestamp", "nonce", "signature"])
def test_tampered_parameters_fail_the_signature(field: str) -> None:
    args = {"timestamp": TIMESTAMP, "nonce": NONCE, "signature": MSG_SIGNATURE}
    args[field] = args[field][:-1] + ("0" if args[field][-1] != "0" else "1")
    with pytest.raises(CallbackCryptoError):
        crypto.verify(args["signature"], args["timestamp"], args["nonce"], ENCRYPT)


def test_tampered_last_block_fails_decryption() -> None:
    raw = bytearray(base64.b64decode(ENCRYPT))
    raw[-1] ^= 0x01
    with pytest.raises(CallbackCryptoError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())


def test_wrong_receiveid_is_refused() -> None:
    other = CallbackCrypto(TOKEN, AES_KEY, "ww_another_corp")
    with pytest.raises(CallbackCryptoError) as caught:
        other.decrypt(ENCRYPT)
    assert caught.value.code == CallbackCryptoError.RECEIVEID


@pytest.mark.parametrize("bad_key", ["", "short", AES_KEY + "x", AES_KEY[:-1] + "=", AES_KEY[:-1] + "+"])
def test_bad_aes_key_is_refused(bad_key: str) -> None:
    with pytest.raises(CallbackCryptoError) as caught:
        CallbackCrypto(TOKEN, bad_key, CORP_ID)
    assert caught.value.code == CallbackCryptoError.BAD_AES_KEY


def test_another_valid_key_cannot_decrypt() -> None:
    other = CallbackCrypto(TOKEN, "a" * 43, CORP_ID)
    with pytest.raises(CallbackCryptoError):
        other.decrypt(ENCRYPT)


@pytest.mark.parametrize("garbage", ["not base64!!", "QUJD", ""])
def test_garbage_ciphertext_is_refused(garbage: str) -> None:
    with pytest.raises(CallbackCryptoError):
        crypto.decrypt(garbage)


# ---- wechatpy, an independent implementation ----


def wechatpy_encrypt(box: WeChatCrypto, message: str, nonce: str, timestamp: str) -> tuple[str, str]:
    xml = box.encrypt_message(message, nonce, timestamp)
    root = SafeET.fromstring(xml)
    return root.findtext("Encrypt"), root.findtext("MsgSignature")


def test_wechatpy_reads_the_official_vector_like_we_do() -> None:
    theirs = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    assert theirs.decrypt_message({"Encrypt": ENCRYPT}, MSG_SIGNATURE, TIMESTAMP, NONCE) == PLAINTEXT


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wechatpy_ciphertext_is_byte_identical_to_ours(seed: int) -> None:
    aes_key = "".join(
        random.Random(seed).choices("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=43)
    )
    theirs = WeChatCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    random.seed(seed)  # wechatpy draws its 16-byte prefix from `random`
    encrypted, their_signature = wechatpy_encrypt(theirs, KF_EVENT, "nonce42", "1732500000")
    random.seed(seed)
    prefix = random_string(16).encode()
    ours = CallbackCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    assert ours.encrypt(KF_EVENT, random16=prefix) == encrypted
    assert ours.sign("1732500000", "nonce42", encrypted) == their_signature


@bounded
@given(message=messages.filter(lambda m: "\x00" not in m), aes_key=aes_keys)
def test_wechatpy_encrypts_we_decrypt(message: str, aes_key: str) -> None:
    theirs = WeChatCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    ours = CallbackCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    encrypted, their_signature = wechatpy_encrypt(theirs, f"<xml>{message}</xml>", "n", "1700000000")
    ours.verify(their_signature, "1700000000", "n", encrypted)
    assert ours.decrypt(encrypted) == f"<xml>{message}</xml>"


@bounded
@given(message=messages, aes_key=aes_keys)
def test_we_encrypt_wechatpy_decrypts(message: str, aes_key: str) -> None:
    theirs = WeChatCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    ours = CallbackCrypto("kefuToken", aes_key, "ww0123456789abcdef")
    encrypted = ours.encrypt(message)
    our_signature = ours.sign("1700000000", "n", encrypted)
    assert signature("kefuToken", "1700000000", "n", encrypted) == our_signature
    # URL verification path in wechatpy: check the signature over echostr and decrypt it.
    assert theirs.check_signature(our_signature, "1700000000", "n", encrypted) == message
