"""The checks of benchmarks/routing_concurrency.py: the simulator's session log replayed in its
world-wide order (no assignment over a cap, none twice), Kefu's own records held against it, and
waiting until Kefu and the simulator agree."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from kefu.simulator import SimulatorServer

HUMAN, ENDED = 3, 4


@dataclass
class Result:
    transfers: int  # assignments Kefu made (the simulator's trans → 3)
    requests: int  # customers who wrote the keyword
    seconds: float  # from the first request until every request was assigned
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def sim_sessions(sim: SimulatorServer, open_kfid: str) -> list[dict[str, Any]]:
    return list(sim.control("GET", f"accounts/{open_kfid}/sessions")["sessions"])


def kefu_conversations(engine: Any, account_id: int) -> dict[str, tuple[int, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_userid, wecom_state, servicer_userid FROM conversations"
                " WHERE account_id = :a"
            ),
            {"a": account_id},
        ).all()
    return {c: (s, u) for c, s, u in rows}


def disagreements(sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int) -> list[str]:
    """Conversations whose state or servicer in Kefu differ from the simulator's session."""
    kefu = kefu_conversations(engine, account_id)
    found = []
    for session in sim_sessions(sim, open_kfid):
        customer = session["external_userid"]
        theirs = (session["state"], session["servicer_userid"] or None)
        ours = kefu.get(customer, (ENDED, None))
        if ours != theirs:
            found.append(f"{customer}: Kefu {ours}, simulator {theirs}")
    return found


def open_jobs(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing') AND run_at <= now()")
            ).scalar_one()
        )


def settle(
    sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int, timeout_s: float, when: str
) -> list[str]:
    """Wait until Kefu has no job due and its records agree with the simulator; else report."""
    deadline = time.monotonic() + timeout_s
    sim.flush_callbacks(timeout_s=timeout_s)
    while True:
        differ = disagreements(sim, open_kfid, engine, account_id)
        if not differ and open_jobs(engine) == 0:
            return []
        if time.monotonic() > deadline:
            return [f"{when}, Kefu and the simulator disagree on {len(differ)} customers: {differ[:5]}"]
        time.sleep(0.2)


def replay(
    sessions: list[dict[str, Any]], caps: dict[str, int], problems: list[str], figures: dict[str, Any]
) -> int:
    """The simulator's own log, replayed in its world-wide order (`seq`): the sessions in 3 of
    each servicer after every move. Reports an assignment by Kefu (`by` api) that left its
    servicer over their cap, and a session Kefu assigned more than once. Returns how many
    assignments Kefu made."""
    moves = sorted(
        (entry["seq"], session["external_userid"], entry)
        for session in sessions
        for entry in session["history"]
    )
    serving: dict[str, str] = {}  # customer → servicer, while in 3
    load: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    assigned_in_session: Counter[tuple[str, int]] = Counter()
    session_of: Counter[str] = Counter()
    over, filling = [], 0
    for _, customer, entry in moves:
        if entry["from_state"] == ENDED and entry["to_state"] != ENDED:
            session_of[customer] += 1  # a new session
        if customer in serving:
            load[serving.pop(customer)] -= 1
        if entry["to_state"] != HUMAN:
            continue
        servicer = entry["servicer_userid"]
        serving[customer] = servicer
        load[servicer] += 1
        peak[servicer] = max(peak[servicer], load[servicer])
        if entry["by"] != "api":
            continue
        assigned_in_session[(customer, session_of[customer])] += 1
        cap = caps.get(servicer, 0)
        filling += load[servicer] == cap
        if load[servicer] > cap:
            over.append(f"{servicer} had {load[servicer]} (cap {cap}) at move {entry['seq']}")
    if over:
        problems.append(f"the simulator saw {len(over)} assignments over a cap: {over[:5]}")
    twice = [key for key, n in assigned_in_session.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} sessions were assigned more than once by Kefu: {twice[:5]}")
    figures["simulator_assignments"] = sum(assigned_in_session.values())
    figures["assignments_filling_a_cap"] = filling
    figures["peak_sessions"] = {s: f"{peak[s]}/{caps[s]}" for s in sorted(caps)}
    figures["servicers_at_cap_at_some_point"] = sum(1 for s in caps if peak[s] == caps[s])
    return sum(assigned_in_session.values())


def check(
    sim: SimulatorServer, open_kfid: str, engine: Any, account_id: int, caps: dict[str, int], result: Result
) -> None:
    problems, figures = result.problems, result.figures
    sessions = sim_sessions(sim, open_kfid)

    sim_assignments = replay(sessions, caps, problems, figures)
    if sim_assignments != result.transfers:
        problems.append(
            f"the driver saw {result.transfers} assignments, the simulator's log {sim_assignments}"
        )

    # Kefu's records.
    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "SELECT conversation_id, session_no, outcome, servicer_userid, steps, over_cap"
                " FROM routing_decisions WHERE account_id = :a ORDER BY id"
            ),
            {"a": account_id},
        ).all()
        transfers = conn.execute(
            text(
                "SELECT a.conversation_id, a.payload, a.status, a.errcode FROM conversation_actions a"
                " JOIN conversations c ON c.id = a.conversation_id"
                " WHERE c.account_id = :a AND a.kind = 'transfer' ORDER BY a.id"
            ),
            {"a": account_id},
        ).all()
        failed_jobs = conn.execute(text("SELECT task, last_error FROM jobs WHERE status = 'failed'")).all()
    outcomes = Counter(outcome for _, _, outcome, _, _, _ in decisions)
    figures["routing_decisions"] = dict(outcomes)
    assigns_per_session: Counter[tuple[int, int]] = Counter()
    kefu_over = []
    for conversation_id, session_no, outcome, servicer, steps, over_cap in decisions:
        if over_cap:
            kefu_over.append(f"over_cap flag on a decision for {servicer}")
        if outcome != "assign":
            continue
        assigns_per_session[(conversation_id, session_no)] += 1
        steps = json.loads(steps) if isinstance(steps, str) else steps
        counted = [
            s["sessions"] for s in steps if s.get("verdict") == "chosen" and s.get("sessions") is not None
        ]
        if counted and counted[-1] >= caps.get(servicer, 0):
            kefu_over.append(f"assigned {servicer} with {counted[-1]} sessions (cap {caps.get(servicer)})")
    if kefu_over:
        problems.append(f"Kefu's decisions went over a cap {len(kefu_over)} times: {kefu_over[:5]}")
    doubled = [key for key, n in assigns_per_session.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} sessions have more than one assign decision: {doubled[:5]}")
    to_human = [
        (status, errcode)
        for _, payload, status, errcode in transfers
        if (json.loads(payload) if isinstance(payload, str) else payload)["action"]["target_state"] == HUMAN
    ]
    figures["kefu_transfers_to_3"] = dict(Counter(status for status, _ in to_human))
    not_done = Counter((status, errcode) for status, errcode in to_human if status != "done")
    if not_done:
        problems.append(f"Kefu's trans → 3 that did not succeed: {dict(not_done)}")
    done = sum(1 for status, _ in to_human if status == "done")
    if done != sim_assignments:
        problems.append(f"Kefu recorded {done} transfers to 3 done, the simulator {sim_assignments}")
    if sum(assigns_per_session.values()) != sim_assignments:
        problems.append(
            f"Kefu made {sum(assigns_per_session.values())} assign decisions, the simulator saw "
            f"{sim_assignments} assignments"
        )
    if failed_jobs:
        problems.append(f"{len(failed_jobs)} jobs failed: {failed_jobs[:3]}")
