"""Temporary media: upload as multipart field `media`; media/get answers bytes, or a JSON error."""

from __future__ import annotations

import email.parser
import email.policy

import pytest

from kefu.wecom.client import WeComClient
from kefu.wecom.errors import WeComError
from tests.wecom.scripted_server import Recorded, Reply, ScriptedWeCom, wecom_error


def parse_form(call: Recorded) -> list[email.message.EmailMessage]:
    """The multipart/form-data parts, read with the standard library's MIME parser."""
    raw = f"Content-Type: {call.headers['content-type']}\r\n\r\n".encode() + call.body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert message.is_multipart()
    return list(message.iter_parts())  # type: ignore[attr-defined]


async def test_upload_sends_one_media_part(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script(
        "media/upload",
        Reply(
            {
                "errcode": 0,
                "errmsg": "",
                "type": "file",
                "media_id": "1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0",
                "created_at": "1380000000",
            }
        ),
    )
    content = bytes(range(256)) * 4
    media_id = await client.media_upload(
        media_type="file", filename="价目表 2026.pdf", content=content, content_type="application/pdf"
    )
    assert media_id == "1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0"
    (call,) = wecom.calls("media/upload")
    assert call.method == "POST"
    assert call.query["type"] == "file" and call.query["access_token"] in wecom.issued_tokens()
    (part,) = parse_form(call)
    assert part.get_param("name", header="content-disposition") == "media"
    assert part.get_filename() == "价目表 2026.pdf"
    assert part.get_param("filelength", header="content-disposition") == str(len(content))
    assert part.get_content_type() == "application/pdf"
    assert part.get_payload(decode=True) == content


async def test_upload_rejects_unknown_types_locally(client: WeComClient, wecom: ScriptedWeCom) -> None:
    with pytest.raises(ValueError, match="media_type"):
        await client.media_upload(
            media_type="thumb", filename="a", content=b"123456", content_type="image/png"
        )
    assert wecom.requests == []


async def test_get_returns_the_bytes_and_filename(client: WeComClient, wecom: ScriptedWeCom) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(500) + b"\xff\xd9"
    wecom.script(
        "media/get",
        Reply(
            body=jpeg,
            headers={
                "content-type": "image/jpeg",
                "content-disposition": 'attachment; filename="MEDIA_ID.jpg"',
            },
        ),
    )
    media = await client.media_get("MEDIA_ID")
    assert (media.content, media.content_type, media.filename) == (jpeg, "image/jpeg", "MEDIA_ID.jpg")
    (call,) = wecom.calls("media/get")
    assert call.method == "GET" and call.query["media_id"] == "MEDIA_ID"


async def test_get_of_a_text_file_is_not_mistaken_for_an_error(
    client: WeComClient, wecom: ScriptedWeCom
) -> None:
    wecom.script("media/get", Reply(body="订单号 123\n".encode(), headers={"content-type": "text/plain"}))
    assert (await client.media_get("M")).content == "订单号 123\n".encode()


async def test_get_json_error_is_a_wecom_error(client: WeComClient, wecom: ScriptedWeCom) -> None:
    wecom.script("media/get", Reply(wecom_error(40007, "invalid media_id")))
    with pytest.raises(WeComError) as caught:
        await client.media_get("EXPIRED")
    assert caught.value.errcode == 40007 and "3 days" in (caught.value.hint or "")
    assert len(wecom.calls("media/get")) == 1
