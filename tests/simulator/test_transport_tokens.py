"""§11.1 transport and §11.2 access tokens, over real HTTP."""

from __future__ import annotations

import httpx

from kefu.simulator import SimulatorServer
from tests.simulator.helpers import Kf, assert_error


def test_errors_are_http_200_with_hint_suffix(kf: Kf) -> None:
    """§11.1: an API error is HTTP 200 with errcode and WeCom's errmsg suffix."""
    answer = kf.http.post("/cgi-bin/kf/account/list", params={"access_token": "nope"}, json={})
    assert answer.status_code == 200
    assert_error(answer.json(), 40014)
    assert answer.json()["errmsg"].startswith("invalid access_token, hint: [")
    assert "from ip: 127.0.0.1" in answer.json()["errmsg"]


def test_success_is_errcode_0_ok(kf: Kf) -> None:
    """§11.1: success is errcode 0, errmsg "ok"."""
    answer = kf.post("kf/account/list", {"offset": 0, "limit": 100})
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"


def test_missing_token_41001(kf: Kf) -> None:
    """§11.1: no access_token in the query → 41001, even if it is in the body."""
    answer = kf.http.post("/cgi-bin/kf/account/list", json={"access_token": kf.token}).json()
    assert_error(answer, 41001)
    assert answer["errmsg"].startswith("access_token missing")


def test_expired_token_42001(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.1/§11.2: a token is valid 7200 s; after that → 42001."""
    simulator.clock.advance(7199)
    assert kf.post("kf/account/list", {}, token=kf.token)["errcode"] == 0
    simulator.clock.advance(1)
    assert_error(kf.post("kf/account/list", {}, token=kf.token), 42001)


def test_gettoken_expires_in_7200_and_new_token_works(kf: Kf) -> None:
    """§11.2: gettoken answers expires_in 7200 and an opaque token usable at once."""
    answer = kf.http.get(
        "/cgi-bin/gettoken", params={"corpid": kf.corpid, "corpsecret": kf.corp["secret"]}
    ).json()
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok" and answer["expires_in"] == 7200
    assert 0 < len(answer["access_token"].encode()) <= 512
    assert kf.post("kf/account/list", {}, token=answer["access_token"])["errcode"] == 0


def test_gettoken_errors(kf: Kf) -> None:
    """§11.2: wrong secret 40001, wrong corpid 40013, missing corpid 41002, missing secret 41004."""
    get = kf.http.get
    assert_error(get("/cgi-bin/gettoken", params={"corpid": kf.corpid, "corpsecret": "x"}).json(), 40001)
    assert_error(get("/cgi-bin/gettoken", params={"corpid": "wwnope", "corpsecret": "x"}).json(), 40013)
    assert_error(get("/cgi-bin/gettoken", params={"corpsecret": "x"}).json(), 41002)
    assert_error(get("/cgi-bin/gettoken", params={"corpid": kf.corpid}).json(), 41004)


def test_forced_early_invalidation(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.2: the control API invalidates tokens now (42001 by default, or 40014); refetch works."""
    assert simulator.control("POST", f"corps/{kf.corpid}/tokens/invalidate", {})["invalidated"] >= 1
    assert_error(kf.post("kf/account/list", {}, token=kf.token), 42001)
    fresh = kf.gettoken()
    assert kf.post("kf/account/list", {}, token=fresh)["errcode"] == 0
    simulator.control("POST", f"corps/{kf.corpid}/tokens/invalidate", {"errcode": 40014})
    assert_error(kf.post("kf/account/list", {}, token=fresh), 40014)


def test_ip_allowlist_60020(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.2: with an IP allow-list that lacks the caller, gettoken and API calls → 60020."""
    simulator.control("PUT", f"corps/{kf.corpid}/ip-allowlist", {"ips": ["10.1.2.3"]})
    answer = kf.http.get("/cgi-bin/gettoken", params={"corpid": kf.corpid, "corpsecret": kf.corp["secret"]})
    assert_error(answer.json(), 60020)
    assert answer.json()["errmsg"].startswith("not allow to access from your ip")
    assert_error(kf.post("kf/account/list", {}), 60020)
    simulator.control("PUT", f"corps/{kf.corpid}/ip-allowlist", {"ips": ["127.0.0.1"]})
    assert kf.post("kf/account/list", {})["errcode"] == 0


def test_token_of_one_corp_sees_only_its_accounts(kf: Kf, simulator: SimulatorServer) -> None:
    """§11.1: an account of another corp → 95004."""
    other = simulator.control("POST", "corps", {})
    other_kfid = simulator.control("POST", f"corps/{other['corpid']}/accounts", {})["open_kfid"]
    assert_error(kf.post("kf/sync_msg", {"open_kfid": other_kfid}), 95004)
    assert_error(kf.post("kf/sync_msg", {"open_kfid": "x" * 65}), 95000)


def test_bad_json_and_wrong_method_40058(kf: Kf) -> None:
    """§11.1: a body that is not JSON, or GET on a POST API → 40058 (HTTP 200)."""
    answer = kf.http.post(
        "/cgi-bin/kf/send_msg",
        params={"access_token": kf.token},
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_error(answer.json(), 40058)
    assert_error(kf.get("kf/send_msg"), 40058)


def test_account_list_accepts_old_get_without_body(kf: Kf) -> None:
    """§8.1: older clients GET kf/account/list with no body; the simulator answers with defaults."""
    answer = kf.get("kf/account/list")
    assert answer["errcode"] == 0 and [a["open_kfid"] for a in answer["account_list"]] == [kf.open_kfid]


def test_unknown_path_is_not_simulated(kf: Kf) -> None:
    assert kf.http.get("/cgi-bin/kf/nope", params={"access_token": kf.token}).status_code == 404


def test_server_answers_on_loopback(simulator: SimulatorServer) -> None:
    """§9 of the issue: in-process on a free loopback port."""
    assert simulator.url.startswith("http://127.0.0.1:")
    assert httpx.get(simulator.url + "/").json()["wecom_api"] == "/cgi-bin/"
