"""Who gets a transfer. A placeholder rule until the routing issue replaces this one function."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kefu.reception.core.settings import AccountSettings, ServicerLoad


def choose_servicer(
    settings: AccountSettings,
    servicers: Sequence[ServicerLoad],
    *,
    exclude: Collection[str] = (),
) -> str | None:
    """The first on-duty servicer under their cap, in the account's servicer order; None = the pool.

    `servicers` comes in the account's order; `exclude` holds servicers WeCom
    refused for this session (95014 not a receptionist, 95019 stopped).
    """
    del settings  # the routing rules (settings.routing) arrive with the routing issue
    for servicer in servicers:
        if servicer.userid in exclude:
            continue
        if servicer.on_duty and servicer.active_sessions < servicer.max_sessions:
            return servicer.userid
    return None
