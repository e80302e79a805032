"""The JSON views behind the pages (`/_sim/ui/...`) over real HTTP, on a frozen clock so that
everything happens in the same second: the order must come from the sequence, not the time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kefu.simulator import SimulatorServer


@dataclass
class Corp:
    sim: SimulatorServer
    http: httpx.Client
    corpid: str
    open_kfid: str
    token: str

    def customer(self, nickname: str) -> str:
        return self.sim.control("POST", f"corps/{self.corpid}/customers", {"nickname": nickname})[
            "external_userid"
        ]

    def says(self, customer: str, text: str) -> dict[str, Any]:
        body = {"open_kfid": self.open_kfid, "msgtype": "text", "text": {"content": text}}
        return self.sim.control("POST", f"customers/{customer}/messages", body)["item"]

    def wecom(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/cgi-bin/{path}", params={"access_token": self.token}, json=body).json()
        assert answer["errcode"] == 0, answer
        return answer

    def act(self, customer: str, action: str, **body: Any) -> None:
        self.sim.control("POST", f"accounts/{self.open_kfid}/sessions/{customer}/{action}", body)

    def view(self, name: str, **params: Any) -> dict[str, Any]:
        answer = self.http.get(f"/_sim/ui/{name}", params=params)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def corp(simulator: SimulatorServer) -> Any:
    made = simulator.control("POST", "corps", {"name": "青禾家电"})
    corpid = made["corpid"]
    open_kfid = simulator.control("POST", f"corps/{corpid}/accounts", {"name": "青禾家电售后"})["open_kfid"]
    for userid, name in (("zhangsan", "张三"), ("lisi", "李四")):
        simulator.control("POST", f"corps/{corpid}/members", {"userid": userid, "name": name})
    simulator.control("POST", f"accounts/{open_kfid}/servicers", {"userids": ["zhangsan", "lisi"]})
    with httpx.Client(base_url=simulator.url, timeout=10) as http:
        token = http.get("/cgi-bin/gettoken", params={"corpid": corpid, "corpsecret": made["secret"]}).json()
        yield Corp(simulator, http, corpid, open_kfid, token["access_token"])


def texts(view: dict[str, Any]) -> list[str]:
    return [
        m["text"] if m.get("kind") == "note" else f"{m.get('kind') or m['side']}: {m['body']['content']}"
        for m in view["messages"]
    ]


def test_the_chat_orders_what_the_customer_wrote_and_received_by_sequence(corp: Corp) -> None:
    xiaolin = corp.customer("小林")
    corp.says(xiaolin, "在吗")
    corp.wecom(
        "kf/send_msg",
        {"touser": xiaolin, "open_kfid": corp.open_kfid, "msgtype": "text", "text": {"content": "在的"}},
    )
    corp.says(xiaolin, "洗衣机不转了")
    chat = corp.view("chat", customer=xiaolin, account=corp.open_kfid)
    assert texts(chat) == ["me: 在吗", "them: 在的", "me: 洗衣机不转了"]
    assert chat["messages"][1]["source"] == "send_msg"
    assert chat["session"] == {
        "state": 1,
        "state_name": "智能助手接待",
        "servicer_userid": "",
        "servicer_name": "",
    }
    assert (chat["customer"]["nickname"], chat["account"]["name"]) == ("小林", "青禾家电售后")


def test_the_session_places_api_moves_between_what_happened_before_and_the_next_servicer_move(
    corp: Corp,
) -> None:
    xiaolin = corp.customer("小林")
    corp.says(xiaolin, "转人工")
    corp.wecom(
        "kf/service_state/trans",
        {"open_kfid": corp.open_kfid, "external_userid": xiaolin, "service_state": 2},
    )
    corp.act(xiaolin, "take", servicer_userid="zhangsan")
    corp.act(xiaolin, "reply", servicer_userid="zhangsan", msgtype="text", text={"content": "您好"})
    corp.act(xiaolin, "transfer", servicer_userid="zhangsan", to_servicer_userid="lisi")
    session = corp.view("session", customer=xiaolin, account=corp.open_kfid)
    assert texts(session) == [
        "customer: 转人工",
        "API 变更会话状态：未处理 → 排队中",
        "张三 从待接入池接入会话",
        "servicer: 您好",
        "张三 将会话转接给 李四",
    ]
    assert session["session"]["servicer_name"] == "李四"
    assert [s["userid"] for s in session["servicers"]] == ["zhangsan", "lisi"]
    chat = corp.view("chat", customer=xiaolin, account=corp.open_kfid)
    assert texts(chat) == ["me: 转人工", "them: 您好"] and chat["messages"][1]["sender"] == "张三"


def test_the_servicer_sees_the_pool_their_sessions_and_the_ones_they_served(corp: Corp) -> None:
    waiting, served = corp.customer("王女士"), corp.customer("小林")
    for customer in (waiting, served):
        corp.says(customer, "你好")
        corp.wecom(
            "kf/service_state/trans",
            {"open_kfid": corp.open_kfid, "external_userid": customer, "service_state": 2},
        )
    corp.act(served, "take", servicer_userid="zhangsan")
    mine = corp.view("servicer", corpid=corp.corpid, userid="zhangsan")
    assert [s["nickname"] for s in mine["mine"]] == ["小林"]
    assert [(s["nickname"], s["waiting_since"]) for s in mine["pool"]] == [("王女士", mine["now"])]
    assert mine["me"]["status_name"] == "接待中" and mine["accounts"][0]["name"] == "青禾家电售后"

    corp.act(served, "transfer", servicer_userid="zhangsan", to_servicer_userid="lisi")
    corp.sim.control("POST", f"corps/{corp.corpid}/members/zhangsan/reception", {"status": 2})
    after = corp.view("servicer", corpid=corp.corpid, userid="zhangsan")
    assert after["mine"] == [] and [s["nickname"] for s in after["served"]] == ["小林"]
    assert after["served"][0]["servicer_name"] == "李四" and after["me"]["status_name"] == "停止接待"
    assert [s["nickname"] for s in corp.view("servicer", corpid=corp.corpid, userid="lisi")["mine"]] == [
        "小林"
    ]


def test_a_view_answers_unchanged_until_the_world_changes(corp: Corp) -> None:
    xiaolin = corp.customer("小林")
    first = corp.view("chat", customer=xiaolin, account=corp.open_kfid)
    same = corp.view("chat", customer=xiaolin, account=corp.open_kfid, since=first["version"])
    assert same == {"version": first["version"], "unchanged": True}
    corp.says(xiaolin, "你好")
    changed = corp.view("chat", customer=xiaolin, account=corp.open_kfid, since=first["version"])
    assert texts(changed) == ["me: 你好"] and changed["version"] > first["version"]
    directory = corp.view("directory")["corps"][0]
    assert [c["nickname"] for c in directory["customers"]] == ["小林"]
    assert [m["name"] for m in directory["accounts"][0]["servicers"]] == ["张三", "李四"]


def test_media_is_shown_inline_only_for_images(corp: Corp) -> None:
    xiaolin = corp.customer("小林")
    image = {"open_kfid": corp.open_kfid, "msgtype": "image", "image": {}}
    item = corp.sim.control("POST", f"customers/{xiaolin}/messages", image)["item"]
    shown = corp.http.get(f"/_sim/ui/media/{item['image']['media_id']}")
    assert shown.headers["content-type"] == "image/png" and shown.content.startswith(b"\x89PNG")
    page = {
        "data_base64": "PGh0bWw+PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0PjwvaHRtbD4=",
        "content_type": "text/html",
    }
    item = corp.sim.control(
        "POST", f"customers/{xiaolin}/messages", {**image, "msgtype": "file", "file": page}
    )["item"]
    download = corp.http.get(f"/_sim/ui/media/{item['file']['media_id']}")
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"] == "attachment"
    assert corp.http.get("/_sim/ui/media/nope").status_code == 404
    assert (
        corp.http.get("/_sim/ui/chat", params={"customer": "nope", "account": corp.open_kfid}).status_code
        == 404
    )
