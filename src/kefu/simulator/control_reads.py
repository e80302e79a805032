"""Control API, part 2: read what happened (sends, inboxes, sessions, streams,
callback deliveries), fault injection, and waiting for changes."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body

from kefu.simulator import people
from kefu.simulator.control import account_of, corp_of
from kefu.simulator.deps import SimDep
from kefu.simulator.errors import ControlError
from kefu.simulator.state import RETENTION_S, Session, World


def session_view(session: Session) -> dict[str, Any]:
    view = asdict(session)
    view["history"] = [asdict(h) for h in session.history]
    return view


def fresh_session(world: World, open_kfid: str, external_userid: str) -> Session:
    """The session after lazy 48 h expiry (reading must not show a stale state)."""
    return world.session(open_kfid, external_userid)


router = APIRouter(prefix="/_sim/api", tags=["simulator control"])


@router.get("/sends")
async def sends(
    sim: SimDep,
    corpid: str | None = None,
    open_kfid: str | None = None,
    touser: str | None = None,
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Every send_msg / send_msg_on_event call, refused and duplicate ones included."""
    with sim.world.lock:
        found = [
            asdict(s)
            for s in sim.world.sends
            if (corpid is None or s.corpid == corpid)
            and (open_kfid is None or s.open_kfid == open_kfid)
            and (touser is None or s.touser == touser)
            and (endpoint is None or s.endpoint == endpoint)
        ]
    return {"count": len(found), "sends": found}


@router.get("/customers/{external_userid}")
async def get_customer(sim: SimDep, external_userid: str) -> dict[str, Any]:
    with sim.world.lock:
        customer = sim.world.customers.get(external_userid)
        if customer is None:
            raise ControlError(404, f"no customer {external_userid}")
        return asdict(customer)


@router.get("/customers/{external_userid}/inbox")
async def inbox(sim: SimDep, external_userid: str, open_kfid: str | None = None) -> dict[str, Any]:
    """What the customer's phone shows: API sends, event-code sends, servicer replies."""
    with sim.world.lock:
        if external_userid not in sim.world.customers:
            raise ControlError(404, f"no customer {external_userid}")
        got = people.received(sim.world, external_userid, open_kfid)
        return {"count": len(got), "messages": [asdict(r) for r in got]}


@router.get("/accounts/{open_kfid}/sessions")
async def sessions(sim: SimDep, open_kfid: str) -> dict[str, Any]:
    with sim.world.lock:
        account_of(sim.world, open_kfid)
        keys = [k for k in sim.world.sessions if k[0] == open_kfid]
        return {"sessions": [session_view(fresh_session(sim.world, *k)) for k in keys]}


@router.get("/accounts/{open_kfid}/sessions/{external_userid}")
async def one_session(sim: SimDep, open_kfid: str, external_userid: str) -> dict[str, Any]:
    with sim.world.lock:
        account_of(sim.world, open_kfid)
        if external_userid not in sim.world.customers:
            raise ControlError(404, f"no customer {external_userid}")
        return session_view(fresh_session(sim.world, open_kfid, external_userid))


@router.get("/accounts/{open_kfid}/sessions/{external_userid}/transcript")
async def session_transcript(sim: SimDep, open_kfid: str, external_userid: str) -> dict[str, Any]:
    """Both sides in order: customer (origin 3), servicer (origin 5), API sends, events."""
    with sim.world.lock:
        account = account_of(sim.world, open_kfid)
        if external_userid not in sim.world.customers:
            raise ControlError(404, f"no customer {external_userid}")
        messages = people.transcript(sim.world, account, external_userid)
    return {"count": len(messages), "messages": messages}


@router.get("/corps/{corpid}/customers")
async def corp_customers(sim: SimDep, corpid: str) -> dict[str, Any]:
    with sim.world.lock:
        corp_of(sim.world, corpid)
        found = [asdict(c) for c in sim.world.customers.values() if c.corpid == corpid]
    return {"count": len(found), "customers": found}


@router.get("/accounts/{open_kfid}/stream")
async def account_stream(sim: SimDep, open_kfid: str) -> dict[str, Any]:
    """The whole stream, with `retained` false for items older than 3 days."""
    with sim.world.lock:
        account = account_of(sim.world, open_kfid)
        cutoff = sim.world.now() - RETENTION_S
        items = [{"seq": e.seq, "retained": e.send_time > cutoff, "item": e.item} for e in account.stream]
    return {"count": len(items), "items": items}


@router.get("/callbacks")
async def callbacks(sim: SimDep, corpid: str | None = None) -> dict[str, Any]:
    deliveries = sim.dispatcher.snapshot(corpid)
    return {"count": len(deliveries), "deliveries": deliveries}


@router.post("/callbacks/flush")
async def flush(sim: SimDep, timeout_s: float = Body(10.0, embed=True)) -> dict[str, Any]:
    """Wait until no callback delivery is in flight (or the timeout passes)."""
    idle = await asyncio.to_thread(sim.dispatcher.wait_idle, timeout_s)
    return {"idle": idle}


@router.get("/changes")
async def changes(sim: SimDep, since: int = -1, timeout_s: float = 25.0) -> dict[str, Any]:
    """Long-poll: answers when the world's version differs from `since` (or on timeout)."""
    version = await asyncio.to_thread(sim.world.wait_for_change, since, min(timeout_s, 60.0))
    return {"version": version}


@router.post("/faults")
async def add_fault(sim: SimDep, spec: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return sim.faults.add(spec).as_dict()


@router.get("/faults")
async def list_faults(sim: SimDep) -> dict[str, Any]:
    return {"faults": sim.faults.rules()}


@router.delete("/faults")
async def clear_faults(sim: SimDep) -> dict[str, Any]:
    sim.faults.clear()
    return {"faults": []}


@router.delete("/faults/{fault_id}")
async def remove_fault(sim: SimDep, fault_id: int) -> dict[str, Any]:
    sim.faults.remove(fault_id)
    return {"faults": sim.faults.rules()}
