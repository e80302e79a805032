"""WeComError text and hints; transport errors never carry a credential."""

from __future__ import annotations

import pytest

from kefu.wecom.errors import HINTS, WeComError, WeComTransportError, errmsg_head

REAL_ERRMSG = (
    "send msg session status invalid, hint: [1700000000_11_abc], from ip: 1.2.3.4, "
    "more info at https://open.work.weixin.qq.com/devtool/query?e=95018"
)


def test_str_drops_the_hint_suffix_of_errmsg_and_adds_ours() -> None:
    error = WeComError(errcode=95018, errmsg=REAL_ERRMSG, endpoint="kf/send_msg")
    assert error.errmsg == REAL_ERRMSG  # kept whole for people
    assert str(error) == f"WeCom kf/send_msg errcode 95018: send msg session status invalid — {error.hint}"


def test_unknown_code_has_no_hint() -> None:
    error = WeComError(errcode=12345, errmsg="strange, hint: [x]", endpoint="kf/x")
    assert error.hint is None
    assert str(error) == "WeCom kf/x errcode 12345: strange"


def test_errmsg_head() -> None:
    assert (
        errmsg_head("invalid credential, hint: [x], from ip: 1.1.1.1, more info at y") == "invalid credential"
    )
    assert errmsg_head("ok") == "ok"
    assert errmsg_head("") == ""


@pytest.mark.parametrize(
    "code",
    [
        -1,
        40001,
        40013,
        40014,
        42001,
        45009,
        48002,
        60020,
        95001,
        95002,
        95007,
        95013,
        95014,
        95016,
        95017,
        95018,
        95019,
    ],
)
def test_common_codes_have_a_hint(code: int) -> None:
    hint = HINTS[code]
    assert hint.endswith(".") and len(hint) > 20


def test_kf_api_not_enabled_hints_name_the_setting() -> None:
    assert "可调用接口的应用" in HINTS[48002]
    assert "API" in HINTS[95017]


def test_transport_error_scrubs_credentials() -> None:
    error = WeComTransportError(
        endpoint="gettoken",
        reason="ConnectError for https://q/cgi-bin/gettoken?corpid=ww1&corpsecret=S3CRET access_token=TOK",
    )
    assert "S3CRET" not in str(error) and "TOK" not in str(error)
    assert "corpsecret=***" in str(error)
