"""AI 设置 page: the `ai:` section checked by the config file's own schema (a bad value shown
beside its field, nothing saved), saved as a new version and audited, the API key never sent
back to the browser and kept when the field is left empty."""

from __future__ import annotations

import re
import socket

import pytest

from kefu.accounts.settings import load_ai_settings
from kefu.audit.log import list_events
from kefu.runtime import Runtime
from tests.ai.fake_openai import FakeOpenAI
from tests.ai.fake_openai import fake_openai as fake_openai  # the fixture
from tests.console.conftest import SignIn, csrf_of
from tests.console.forms import error_beside, form_values

KEY = "sk-test-0123456789abcdef"
# A control character pasted into a text (Word's line break), as the page words it.
CONTROL_WORDS = "含有看不见的控制字符（\\x0b，常见于从 Word 粘贴的换行）；请删除后重新输入"


def _form(csrf: str, **changes: str) -> dict[str, str]:
    values = {
        "csrf_token": csrf,
        "provider": "openai",
        "openai.base_url": "http://127.0.0.1:8001/v1",
        "openai.api_key": KEY,
        "openai.model": "qwen-plus",
        "openai.timeout_s": "8",
        "not_sure_text": "这个问题我还不会，请点按钮找人工。",
        "threshold": "0.6",
        "retrieval": "lexical",
        "synonyms": "云笺: 云签, yunjian",
    }
    return values | changes


async def test_an_admin_switches_to_an_llm_and_the_key_stays_hidden(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/ai")
    assert page.status_code == 200 and "内置知识库" in page.text
    assert '<option value="lexical">字词检索（lexical）</option>' in page.text  # not bare English
    assert "接口提供的模型名，如 qwen-plus" in page.text  # a hint, not a bare value under the field
    csrf = csrf_of(page)
    wrong = {"openai.base_url": "ftp://x", "threshold": "2"}
    bad = await admin.post("/console/ai", data=_form(csrf, **wrong))
    assert bad.status_code == 422 and bad.text.count('class="field-error"') == 2
    assert error_beside(bad.text, "openai.base_url") == "“ftp://x”不是网址：须以 http:// 或 https:// 开头"
    assert error_beside(bad.text, "threshold") == "不能大于 1" and 'value="ftp://x"' in bad.text
    missing_model = await admin.post("/console/ai", data=_form(csrf, **{"openai.model": ""}))
    assert missing_model.status_code == 422 and "field-error" in missing_model.text
    async with rt.db.read() as session:
        assert (await load_ai_settings(session)).provider == "builtin"

    saved = await admin.post("/console/ai", data=_form(csrf))
    assert saved.status_code == 303 and "saved" in saved.headers["location"]
    shown = await admin.get("/console/ai")
    assert KEY not in shown.text and "…cdef" in shown.text and 'value="qwen-plus"' in shown.text
    # The key left empty is kept; the model changes.
    kept_key = {"openai.api_key": "", "openai.model": "qwen-max"}
    again = await admin.post("/console/ai", data=_form(csrf, **kept_key))
    assert again.status_code == 303
    async with rt.db.read() as session:
        ai = await load_ai_settings(session, rt.secrets)
        events, _ = await list_events(session, target="ai")
    assert ai.provider == "openai" and ai.openai is not None
    assert (ai.openai.api_key, ai.openai.model, ai.threshold) == (KEY, "qwen-max", 0.6)
    assert ai.synonyms == {"云笺": ["云签", "yunjian"]}
    assert [e.actor for e in events] == ["console:admin0", "console:admin0"]
    assert events[0].changes == {"openai.model": ["qwen-plus", "qwen-max"]}
    assert events[1].changes["openai.api_key"] == ["(changed)", "(changed)"]
    assert KEY not in str(events[1].changes)


async def test_a_synonym_line_without_a_colon_is_refused_inline(rt: Runtime, signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/ai"))
    synonyms = "云笺: 云签\n云笺 云签"
    bad = await admin.post("/console/ai", data=_form(csrf, provider="builtin", synonyms=synonyms))
    assert bad.status_code == 422
    assert error_beside(bad.text, "synonyms") == "第 2 行格式不对：请写成 标准词: 说法1, 说法2"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"openai.base_url": "127.0.0.1:8001/v1"},
            "openai.base_url",
            "“127.0.0.1:8001/v1”不是网址：须以 http:// 或 https:// 开头",
        ),
        ({"openai.base_url": ""}, "openai.base_url", "须填写接口地址，如 http://127.0.0.1:8001/v1"),
        ({"openai.model": ""}, "openai.model", "不能为空（至少 1 个字符）"),
        ({"openai.timeout_s": "0"}, "openai.timeout_s", "须大于 0"),
        ({"openai.timeout_s": "200"}, "openai.timeout_s", "不能大于 120"),
        ({"openai.timeout_s": "八秒"}, "openai.timeout_s", "“八秒”不是数字"),
        ({"threshold": "-0.1"}, "threshold", "不能小于 0"),
        ({"threshold": "一半"}, "threshold", "“一半”不是数字"),
        (
            {"retrieval": "semantic"},
            "retrieval",
            "须为以下之一：auto / lexical / hybrid",
        ),
        (
            {"provider": "gpt"},
            "provider",
            "须为以下之一：builtin / openai / none",
        ),
        ({"not_sure_text": ""}, "not_sure_text", "不能为空：AI 无法回答时要把这句话发给客户"),
        (
            {"not_sure_text": "不" * 683},
            "not_sure_text",
            "内容有 2049 字节（UTF-8，一个汉字占 3 字节），企业微信最多允许 2048 字节",
        ),
        ({"not_sure_text": "这个问题我还不会，\x0b请点按钮找人工。"}, "not_sure_text", CONTROL_WORDS),
    ],
)
async def test_a_refused_value_is_worded_in_chinese_beside_its_field(
    rt: Runtime, signed_in: SignIn, change: dict[str, str], field: str, words: str
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/ai"))
    refused = await admin.post("/console/ai", data=_form(csrf, **change))
    assert refused.status_code == 422 and "未保存" in refused.text
    assert error_beside(refused.text, field) == words
    assert refused.text.count('class="error-text"') == 1
    tested = await admin.post("/console/ai/test", data=_form(csrf, **change))  # 测试 checks the same
    assert tested.status_code == 422 and error_beside(tested.text, field) == words
    async with rt.db.read() as session:
        assert (await load_ai_settings(session)).provider == "builtin"


async def test_the_english_switch_words_them_in_english(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    admin.cookies.set("kefu_lang", "en")
    csrf = csrf_of(await admin.get("/console/ai"))
    wrong = {
        "openai.base_url": "ftp://x",
        "openai.timeout_s": "0",
        "threshold": "一半",
        "synonyms": "云笺 云签",
    }
    refused = await admin.post("/console/ai", data=_form(csrf, **wrong))
    assert refused.status_code == 422
    assert error_beside(refused.text, "synonyms") == "Line 1 is not written as term: variant 1, variant 2"
    wrong.pop("synonyms")
    refused = await admin.post("/console/ai", data=_form(csrf, **wrong))
    assert error_beside(refused.text, "openai.base_url") == (
        "“ftp://x” is not a web address: it must start with http:// or https://"
    )
    assert error_beside(refused.text, "openai.timeout_s") == "Must be more than 0"
    assert error_beside(refused.text, "threshold") == "“一半” is not a number"


async def test_a_value_echoed_in_the_words_is_escaped(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/ai"))
    typed = '<img src=x onerror="alert(1)">'
    refused = await admin.post("/console/ai", data=_form(csrf, **{"openai.base_url": typed}))
    assert error_beside(refused.text, "openai.base_url") == (
        "“&lt;img src=x onerror=&#34;alert(1)&#34;&gt;”不是网址：须以 http:// 或 https:// 开头"
    )
    assert typed not in refused.text


async def test_the_test_button_asks_the_endpoint_and_saves_nothing(
    rt: Runtime, signed_in: SignIn, fake_openai: FakeOpenAI
) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/ai"))
    ok = await admin.post("/console/ai/test", data=_form(csrf, **{"openai.base_url": fake_openai.url}))
    assert ok.status_code == 200 and "连接成功" in ok.text
    assert fake_openai.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    fake_openai.reply(status=401)
    refused = await admin.post("/console/ai/test", data=_form(csrf, **{"openai.base_url": fake_openai.url}))
    assert _test_result(refused.text) == (
        "连接失败：接口返回 HTTP 401（401、403 多为 API Key 不对，404 多为接口地址或模型名不对）"
    )
    admin.cookies.set("kefu_lang", "en")
    fake_openai.reply(status=404)
    refused = await admin.post("/console/ai/test", data=_form(csrf, **{"openai.base_url": fake_openai.url}))
    assert _test_result(refused.text) == (
        "Connection failed: the endpoint answered HTTP 404 (401 or 403: mostly a wrong API key; "
        "404: mostly a wrong base URL or model)"
    )
    async with rt.db.read() as session:
        assert (await load_ai_settings(session)).provider == "builtin"


def _test_result(html: str) -> str:
    found = re.search(r'<div [^>]*id="ai-test-result">(.*?)</div>', html, re.S)
    assert found, "no test result on the page"
    return found.group(1)


async def test_an_endpoint_that_cannot_be_reached_is_said_in_chinese(signed_in: SignIn) -> None:
    admin = await signed_in("admin")
    csrf = csrf_of(await admin.get("/console/ai"))
    with socket.socket() as closed:  # a loopback port nothing listens on once closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = await admin.post(
        "/console/ai/test", data=_form(csrf, **{"openai.base_url": f"http://127.0.0.1:{port}/v1"})
    )
    assert (
        _test_result(refused.text)
        == "连接失败：连不上接口（ConnectError）：请检查接口地址，以及本机能否访问它"
    )


async def test_supervisors_cannot_open_ai_settings(signed_in: SignIn) -> None:
    supervisor = await signed_in("supervisor")
    assert (await supervisor.get("/console/ai")).status_code == 403


async def test_the_small_talk_replies_are_shown_edited_and_checked_like_the_other_texts(
    rt: Runtime, signed_in: SignIn
) -> None:
    admin = await signed_in("admin")
    page = await admin.get("/console/ai")
    assert "寒暄回复" in page.text and "问候（你好、您好、在吗）" in page.text
    assert "ai_settings." not in page.text  # every kind's label has words (a missing key shows itself)
    shown = form_values(page.text, "ai-settings")
    assert (shown["small_talk.greeting"], shown["small_talk.acknowledgement"]) == (
        "您好，请问有什么可以帮您？",
        "",
    )
    too_long = shown | {"small_talk.goodbye": "再" * 683}
    refused = await admin.post("/console/ai", data=too_long)
    assert refused.status_code == 422
    assert error_beside(refused.text, "small_talk.goodbye") == (
        "内容有 2049 字节（UTF-8，一个汉字占 3 字节），企业微信最多允许 2048 字节"
    )
    edited = shown | {"small_talk.greeting": "您好，这里是青禾家电售后", "small_talk.thanks": ""}
    assert (await admin.post("/console/ai", data=edited)).status_code == 303
    async with rt.db.read() as session:
        ai = await load_ai_settings(session)
        [event] = (await list_events(session, target="ai"))[0]
    assert (ai.small_talk.greeting, ai.small_talk.thanks) == ("您好，这里是青禾家电售后", "")
    assert ai.small_talk.goodbye == "再见，祝您生活愉快！"  # what the page showed, posted back
    assert event.changes == {
        "small_talk.greeting": ["您好，请问有什么可以帮您？", "您好，这里是青禾家电售后"],
        "small_talk.thanks": ["不客气，还有其他问题随时告诉我。", ""],
    }
    admin.cookies.set("kefu_lang", "en")
    english = await admin.get("/console/ai")
    assert "Small-talk replies" in english.text and "Acknowledgement (好的, 收到, 嗯, 👍)" in english.text
    assert "ai_settings." not in english.text
    assert "您好，这里是青禾家电售后</textarea>" in english.text
