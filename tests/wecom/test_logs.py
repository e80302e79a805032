"""The client's logs (ours and aiohttp's) and its errors never contain the secret or an access token."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from kefu.wecom.client import WeComClient
from kefu.wecom.errors import WeComError, WeComTransportError
from tests.wecom.scripted_server import SECRET, Reply, ScriptedWeCom, wecom_error


async def test_no_secret_or_token_in_any_log(
    make_client: Callable[..., WeComClient],
    wecom: ScriptedWeCom,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aiohttp")  # whatever the HTTP client says at DEBUG counts too
    client = make_client()
    wecom.script("kf/account/list", Reply(wecom_error(-1, "system busy")), Reply(drop=True))
    await client.account_list()  # gettoken, a busy retry, a lost answer retried
    wecom.revoke_tokens()
    await client.account_list()  # 42001 → refresh
    wecom.script("kf/sync_msg", *[Reply(drop=True)] * 4)
    with pytest.raises(WeComTransportError) as lost:
        await client.sync_msg(open_kfid="wk1", cursor=None, token=None)
    with pytest.raises(WeComError) as wrong:
        await make_client(secret="wrong-" + SECRET).get_token()

    tokens = wecom.issued_tokens()
    assert len(tokens) == 2
    out, err = capfd.readouterr()
    everything = "\n".join([caplog.text, out, err, str(lost.value), str(wrong.value)])
    assert "wecom.retry" in everything and "wecom.token_rejected" in everything
    assert SECRET not in everything
    for token in tokens:
        assert token not in everything
