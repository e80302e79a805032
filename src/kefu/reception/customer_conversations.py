"""The conversations of WeChat customers, for a CRM contact's page: a WeChat customer is known
per connection (external_userid), a conversation per account of that connection."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.accounts.models import KfAccount
from kefu.crm.models import WechatCustomer
from kefu.reception.models import Conversation


async def conversations_of(
    session: AsyncSession, customers: Sequence[WechatCustomer]
) -> dict[int, list[tuple[Conversation, KfAccount]]]:
    """{wechat customer id: [(conversation, its account)], newest message first}."""
    found: dict[int, list[tuple[Conversation, KfAccount]]] = {c.id: [] for c in customers}
    for customer in customers:
        rows = await session.execute(
            select(Conversation, KfAccount)
            .join(KfAccount, KfAccount.id == Conversation.account_id)
            .where(
                KfAccount.connection_id == customer.connection_id,
                Conversation.external_userid == customer.external_userid,
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        )
        found[customer.id] = [(conversation, account) for conversation, account in rows.all()]
    return found
