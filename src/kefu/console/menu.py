"""The console's left-hand menu, in the seed's words (微信客服设置 → 启用与接入, 接入后设置 …).

An item shows when its page is registered in the app and the viewer's role may open it, so a
page added later appears in the menu by existing; the same role lists guard the pages
themselves (tests/console/test_access.py walks every page with every role)."""

from __future__ import annotations

from dataclasses import dataclass

ADMIN = ("admin",)
MANAGERS = ("admin", "supervisor")
EVERYONE = ("admin", "supervisor", "servicer")


@dataclass(frozen=True)
class Item:
    key: str  # the locale key of its label
    path: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    key: str
    items: tuple[Item, ...]


MENU = (
    Group(
        "menu.workbench",
        (
            Item("menu.pool", "/console/workbench/pool", EVERYONE),
            Item("menu.my_sessions", "/console/workbench/sessions", EVERYONE),
            Item("menu.conversations", "/console/conversations", EVERYONE),
            Item("menu.follow_ups", "/console/workbench/follow-ups", EVERYONE),
            Item("menu.awaiting_reply", "/console/workbench/awaiting-reply", EVERYONE),
        ),
    ),
    Group(
        "menu.wecom_settings",
        (
            Item("menu.connections", "/console/connections", ADMIN),
            Item("menu.accounts", "/console/accounts", ADMIN),
        ),
    ),
    Group(
        "menu.ai",
        (
            Item("menu.knowledge", "/console/knowledge", MANAGERS),
            Item("menu.ai_settings", "/console/ai", ADMIN),
        ),
    ),
    Group(
        "menu.crm",
        (
            Item("menu.customers", "/console/crm/customers", MANAGERS),
            Item("menu.contacts", "/console/crm/contacts", MANAGERS),
        ),
    ),
    Group("menu.reports", (Item("menu.reports", "/console/reports", MANAGERS),)),
    Group(
        "menu.system",
        (
            Item("menu.users", "/console/users", ADMIN),
            Item("menu.tokens", "/console/tokens", ADMIN),
            Item("menu.audit", "/console/audit", MANAGERS),
            Item("menu.failed_jobs", "/console/jobs", ADMIN),
        ),
    ),
    Group("menu.help", (Item("menu.guide", "/console/help", EVERYONE),)),
)


def menu_for(role: str | None, known_paths: set[str]) -> list[tuple[Group, list[Item]]]:
    """The groups and items this role sees, among the pages that exist."""
    if role is None:
        return []
    shown = []
    for group in MENU:
        items = [item for item in group.items if role in item.roles and item.path in known_paths]
        if items:
            shown.append((group, items))
    return shown
