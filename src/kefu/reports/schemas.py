"""The summary of a period as the REST API, the console and the exports give it (docs/reports.md
says what each field means)."""

from __future__ import annotations

from pydantic import BaseModel


class Spread(BaseModel):
    count: int
    median_s: int | None
    p90_s: int | None


class Satisfaction(BaseModel):
    rated: int
    average: float | None
    distribution: dict[int, int]  # score → ratings
    # score → the words customers tapped for it in these ratings (the survey option's label); two
    # accounts' words for one score are joined with "/"
    labels: dict[int, str]
    # Sessions whose ending carried the survey and went out (邀评), and the share of those rated
    # (参评率); None when no survey went out.
    surveyed: int
    participation_rate: float | None


class ServicerLoad(BaseModel):
    userid: str
    received: int
    ended: int
    median_first_response_s: int | None
    rated: int
    average_rating: float | None
    # sessions taken or given in the WeCom app, or taken by hand in the console, past their cap
    # (product §2: flagged)
    over_cap: int
    transferred_in: int  # sessions a colleague passed to them (转入)
    transferred_out: int  # sessions they passed to a colleague, or a colleague took from them (转出)
    unanswered: int  # ended sessions they held without writing in them (接入未回复)


class DayCount(BaseModel):
    day: str  # YYYY-MM-DD in the report's time zone
    sessions: int


class Summary(BaseModel):
    first_day: str
    last_day: str
    timezone: str
    account_id: int | None
    sessions_started: int
    sessions_ended: int
    ai_only_resolved: int
    ai_only_rate: float | None  # of ended sessions
    # Ended without a transfer although the customer asked for a human (off hours, the queue
    # full, a transfer that failed): neither AI-only resolved nor transferred.
    asked_human_not_transferred: int
    transferred: int
    transfer_rate: float | None  # of started sessions
    transfer_reasons: dict[str, int]
    end_reasons: dict[str, int]  # ended sessions by how they ended (kefu.reports.endings)
    transferred_between_servicers: int  # sessions passed from one servicer to another (转接)
    taken_unanswered: int  # ended sessions that reached a servicer and got no servicer's word
    waiting: Spread  # seconds in the pool, over sessions that left it (taken or not)
    waited_taken: int
    waited_abandoned: int
    wait_buckets: dict[str, int]
    first_response: Spread
    satisfaction: Satisfaction
    servicers: list[ServicerLoad]
    per_day: list[DayCount]
    per_hour: list[int]  # 24 counts, hour of day in the report's time zone
