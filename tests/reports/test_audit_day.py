"""The reports against a day played through the real reception (tests/reports/audit_day.py):
every figure below is worked out by hand from that timeline."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import api_client
from tests.reception.conftest import WorldFactory
from tests.reports.audit_day import AuditDay, play_audit_day

pytestmark = [pytest.mark.db, pytest.mark.e2e]

# 12-01 in Shanghai, account 青禾: B, B2, C, D, E, J, A2, A3, F, G, K (A1 and H: the days around).
DEC_1 = {
    "first_day": "2026-12-01",
    "last_day": "2026-12-01",
    "timezone": "Asia/Shanghai",
    "sessions_started": 11,
    "sessions_ended": 11,  # F too: WeCom's 48 h limit ended it on 12-03
    "ai_only_resolved": 3,  # A2, B2, K
    "ai_only_rate": 0.2727,
    "transferred": 8,
    "transfer_rate": 0.7273,
    "transfer_reasons": {"keyword": 5, "button": 1, "not_sure_streak": 1, "opening_reached": 1},
    # D 120 s and J 120 s taken, E 600 s not taken: the median is the 2nd, p90 the ⌈2.7⌉ = 3rd.
    "waiting": {"count": 3, "median_s": 120, "p90_s": 600},
    "waited_taken": 2,
    "waited_abandoned": 1,
    "wait_buckets": {"<30s": 0, "30s-1m": 0, "1-2m": 0, "2-5m": 2, "5-10m": 0, ">=10m": 1},
    # F 5, J 20, C 30, B 45, D 70, A3 120, G 630: the 4th, and the ⌈6.3⌉ = 7th.
    "first_response": {"count": 7, "median_s": 45, "p90_s": 630},
    "satisfaction": {"rated": 4, "average": 65.0, "distribution": {"0": 1, "60": 1, "100": 2}},
    "servicers": [
        {
            "userid": "alice",  # received B, C, A3, G; C ended with bob; replies 45, 30, 120, 630
            "received": 4,
            "ended": 3,
            "median_first_response_s": 45,
            "rated": 2,  # B 60, G 100
            "average_rating": 80.0,
            "over_cap": 0,
        },
        {
            "userid": "bob",  # received D, F, J; ended C, D, F, J; replies 70, 5, 20
            "received": 3,
            "ended": 4,
            "median_first_response_s": 20,
            "rated": 2,  # C 100, D 0
            "average_rating": 50.0,
            "over_cap": 1,  # alice's transfer of C gave him a second session
        },
    ],
    "per_day": [{"day": "2026-12-01", "sessions": 11}],
    "per_hour": [1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2],
}


def differences(found: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Figure → (reported, expected), for each figure the report gets wrong."""
    return {key: (found[key], value) for key, value in expected.items() if found[key] != value}


async def summary(day: AuditDay, first: str, last: str, account: str | None = "qinghe") -> dict[str, Any]:
    params: dict[str, Any] = {"from": first, "to": last}
    if account is not None:
        params["account_id"] = getattr(day, account).account.id
    async with api_client(day.qinghe.rt) as api:
        answer = await api.get("/api/v1/reports/summary", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_day_figure_by_figure(make_world: WorldFactory) -> None:
    day = await play_audit_day(make_world)
    found = await summary(day, "2026-12-01", "2026-12-01")
    wrong = differences(found, DEC_1)
    assert not wrong, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert found["account_id"] == day.qinghe.account.id
