"""Jobs of the CRM: who a WeChat customer is (`kf/customer/batchget` at each new session, then
the unionid binding), and the outgoing webhook (kefu.crm.webhooks)."""

from __future__ import annotations

from kefu.accounts.service import account_and_connection, wecom_client
from kefu.crm import webhooks
from kefu.crm.identity import bind_by_unionid, note_wechat_customer
from kefu.jobs.registry import task
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)
FETCH_TASK = "crm.fetch_customer"


@task(FETCH_TASK, max_attempts=5, backoff_cap_s=300)
async def fetch_customer(rt: Runtime, *, account_id: int, external_userid: str) -> None:
    """Keep the customer's nickname, avatar and unionid, and bind them to the contact with that
    unionid. WeCom answers only for customers active in the last 48 hours, hence at each new
    session rather than later; a customer it no longer knows keeps what was fetched before."""
    account, connection = await rt.db.run_read(account_and_connection, account_id)
    if account is None or connection is None:
        return
    batch = await wecom_client(rt, connection).customer_batchget([external_userid])
    info = next((c for c in batch.customers if c.external_userid == external_userid), None)
    async with rt.db.write() as session:
        now = rt.clock.now()
        if info is None:
            await note_wechat_customer(session, connection.id, external_userid, now=now)
            log.info("crm.fetch.unknown", account_id=account_id, external_userid=external_userid)
            return
        customer = await note_wechat_customer(
            session,
            connection.id,
            external_userid,
            now=now,
            nickname=info.nickname,
            avatar=info.avatar,
            unionid=info.unionid,
            fetched=True,
        )
        await webhooks.emit_binding(session, rt.settings, await bind_by_unionid(session, customer, now=now))
