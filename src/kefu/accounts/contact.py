"""An account's contact link (`kf/add_contact_way`) and its QR code, as PNG or SVG (segno).

The link is what a web page, a mini-program or a printed poster leads customers to; its
`scene` comes back in the customer's `enter_session` event. It is stored on the account
(`contact_url`, `contact_scene`). A disabled account's link is not offered (Conflict).
"""

from __future__ import annotations

import io
import re
from typing import Literal

import segno

from kefu.accounts.kf_accounts import wecom_step
from kefu.accounts.models import KfAccount
from kefu.accounts.service import get_connection, wecom_client
from kefu.accounts.settings import get_account
from kefu.audit.log import record
from kefu.errors import Conflict, Invalid, NotFound
from kefu.logs import get_logger
from kefu.runtime import Runtime

log = get_logger(__name__)

QrFormat = Literal["png", "svg"]
QR_FORMATS: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}
SCENE = re.compile(r"^[0-9A-Za-z_-]{1,32}$")  # wecom-kf-api.md §8.2
QR_SCALE = 8  # pixels per module: about 300 px for a link, sharp enough to print small
QR_BORDER = 4  # the quiet zone the QR standard asks for


def check_scene(scene: str | None) -> str | None:
    if scene is not None and not SCENE.match(scene):
        raise Invalid(
            f"scene must be 1–32 characters of letters, digits, '_' or '-', got {scene!r}",
            "bad_scene",
            {"scene": scene},
        )
    return scene


def offered_link(account: KfAccount) -> str:
    """The stored link, if the account offers it; raises Conflict (disabled) or NotFound (none yet)."""
    if not account.enabled:
        raise Conflict(
            f"account {account.id} ({account.name}) is disabled, so its contact link is not offered; "
            f"enable it first (`kefu accounts enable {account.id}`)",
            "link_disabled",
            {"id": account.id, "name": account.name},
        )
    if not account.contact_url:
        raise NotFound(
            f"account {account.id} has no contact link yet: "
            f"create one with `kefu accounts link {account.id}`",
            "no_link",
            {"id": account.id, "name": account.name},
        )
    return account.contact_url


async def create_link(
    rt: Runtime, account_id: int, *, scene: str | None = None, actor: str = "cli"
) -> KfAccount:
    """Ask WeCom for a new contact link (`kf/add_contact_way`, with `scene` when given) and store it.

    Links WeCom made earlier keep working; the account offers the newest one."""
    scene = check_scene(scene)
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        connection = await get_connection(session, account.connection_id)
    if not account.enabled:
        offered_link(account)  # raises: no link is made for a disabled account
    with wecom_step(f"asking WeCom for a contact link of {account.open_kfid}"):
        url = await wecom_client(rt, connection).add_contact_way(account.open_kfid, scene)
    async with rt.db.write() as session:
        account = await get_account(session, account_id)
        before = {"contact_url": account.contact_url, "contact_scene": account.contact_scene}
        account.contact_url, account.contact_scene = url, scene
        account.updated_at = rt.clock.now()
        await record(
            session,
            actor=actor,
            action="account.link.create",
            target=f"account:{account_id}",
            before=before,
            after={"contact_url": url, "contact_scene": scene},
            now=account.updated_at,
        )
    log.info("kf_account.link_created", account_id=account_id, scene=scene)
    return account


async def link_for(rt: Runtime, account_id: int, *, scene: str | None = None, actor: str = "cli") -> str:
    """The account's offered link; the first request makes one (later ones reuse it)."""
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
    if account.enabled and not account.contact_url:
        account = await create_link(rt, account_id, scene=scene, actor=actor)
    return offered_link(account)


def qr_code(url: str, kind: QrFormat) -> bytes:
    """The link as a QR code: a PNG, or an SVG document (with its XML declaration)."""
    if kind not in QR_FORMATS:
        raise Invalid(f"QR format must be png or svg, not {kind!r}")
    qr = segno.make(url, error="m")
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=QR_SCALE, border=QR_BORDER, xmldecl=True, title="微信客服")
    else:
        qr.save(out, kind="png", scale=QR_SCALE, border=QR_BORDER)
    return out.getvalue()
