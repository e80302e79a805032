"""REST: /api/v1/accounts — 在线客服账号, their settings (versioned), servicers, link and QR code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from kefu.accounts import contact, kf_accounts, servicers
from kefu.accounts.kf_schemas import (
    AccountCreate,
    AccountOut,
    AccountUpdate,
    LinkCreate,
    LinkOut,
    ServicersOut,
    ServicersPut,
    SettingsVersionOut,
    account_out,
    servicer_out,
    version_out,
)
from kefu.accounts.settings import (
    account_scope,
    get_account,
    list_versions,
    save_account_settings,
    settings_json,
    stored_settings,
)
from kefu.api.auth import require_token
from kefu.api.deps import IdPath, IdQuery, RuntimeDep, TokenDep
from kefu.api.routes import ApiRoute
from kefu.errors import Invalid
from kefu.hours import ReceptionCalendar
from kefu.runtime import Runtime

router = APIRouter(
    prefix="/accounts", tags=["accounts"], route_class=ApiRoute, dependencies=[Depends(require_token)]
)


async def _view(rt: Runtime, account_id: int) -> AccountOut:
    async with rt.db.read() as session:
        account = await get_account(session, account_id)
        return account_out(account, await servicers.list_servicers(session, account_id))


@router.get("", response_model=list[AccountOut])
async def list_accounts(rt: RuntimeDep, connection_id: IdQuery = None) -> list[AccountOut]:
    async with rt.db.read() as session:
        rows = await kf_accounts.list_all_accounts(session, connection_id)
        return [account_out(a, await servicers.list_servicers(session, a.id)) for a in rows]


@router.post("", response_model=AccountOut, status_code=201)
async def create_account(body: AccountCreate, rt: RuntimeDep, token: TokenDep) -> AccountOut:
    """Create the account in WeCom by `name` (avatar uploaded; a default one when none is given),
    or adopt an existing one by `open_kfid`. An account of that name already in WeCom but not
    yet in Kefu is adopted rather than created twice."""
    common: dict[str, Any] = {
        "connection_id": body.connection_id,
        "avatar": body.avatar(),
        "enabled": body.enabled,
        "settings": body.settings,
        "changed_by": token.name,
        "source": "api",
    }
    if body.open_kfid is not None:
        account = await kf_accounts.adopt_account(rt, open_kfid=body.open_kfid, name=body.name, **common)
    elif body.name is not None:
        account = await kf_accounts.create_account(rt, name=body.name, **common)
    else:
        raise Invalid("give a name to create an account, or an open_kfid to adopt one")
    return await _view(rt, account.id)


@router.get("/{account_id}", response_model=AccountOut)
async def get_account_view(account_id: IdPath, rt: RuntimeDep) -> AccountOut:
    return await _view(rt, account_id)


@router.patch("/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: IdPath, body: AccountUpdate, rt: RuntimeDep, token: TokenDep
) -> AccountOut:
    """Rename (in WeCom too), change the avatar (uploaded only when the image changed), enable or
    disable (Kefu only: a disabled account is still pulled and stored, but not served)."""
    await kf_accounts.update_account(
        rt, account_id, name=body.name, avatar=body.avatar(), enabled=body.enabled, actor=f"api:{token.name}"
    )
    return await _view(rt, account_id)


@router.delete("/{account_id}", status_code=204)
async def delete_account(account_id: IdPath, rt: RuntimeDep) -> Response:
    """Delete the account in WeCom (kf/account/del), then in Kefu with its messages."""
    await kf_accounts.delete_account(rt, account_id)
    return Response(status_code=204)


@router.get("/{account_id}/settings")
async def get_settings(account_id: IdPath, rt: RuntimeDep) -> dict[str, Any]:
    """The account's settings (the config file's keys), defaults filled."""
    async with rt.db.read() as session:
        return settings_json(stored_settings(await get_account(session, account_id)))


@router.get("/{account_id}/warnings")
async def get_warnings(account_id: IdPath, rt: RuntimeDep, lang: str = "zh") -> dict[str, list[str]]:
    """What an admin should act on now, e.g. statutory-holiday data that runs out this year
    (past it, reception hours fall back to the weekly schedule and the admin's own dates)."""
    async with rt.db.read() as session:
        stored = stored_settings(await get_account(session, account_id))
    calendar = ReceptionCalendar(stored.hours, stored.timezone)
    local_today = calendar.local(rt.clock.now()).date()
    warning = calendar.holiday_data_warning(local_today, locale="en" if lang == "en" else "zh")
    return {"warnings": [warning] if warning else []}


@router.put("/{account_id}/settings")
async def put_settings(
    account_id: IdPath, rt: RuntimeDep, token: TokenDep, body: dict[str, Any] = Body(...)
) -> dict[str, Any]:
    """Replace the settings (keys left out take their defaults). Validated; a change is kept as a
    new version with the token's name; the same value again records nothing."""
    async with rt.db.write() as session:
        account = await get_account(session, account_id)
        await save_account_settings(
            session, account, body, changed_by=token.name, source="api", now=rt.clock.now()
        )
        return settings_json(stored_settings(account))


@router.get("/{account_id}/settings/versions", response_model=list[SettingsVersionOut])
async def settings_versions(account_id: IdPath, rt: RuntimeDep) -> list[SettingsVersionOut]:
    """Every change of the account's settings, newest first: who, when, through what, the value."""
    async with rt.db.read() as session:
        await get_account(session, account_id)
        return [version_out(v) for v in await list_versions(session, account_scope(account_id))]


@router.get("/{account_id}/servicers", response_model=ServicersOut)
async def get_servicers(account_id: IdPath, rt: RuntimeDep) -> ServicersOut:
    async with rt.db.read() as session:
        await get_account(session, account_id)
        return ServicersOut(
            servicers=[servicer_out(s) for s in await servicers.list_servicers(session, account_id)]
        )


@router.put("/{account_id}/servicers", response_model=ServicersOut)
async def put_servicers(
    account_id: IdPath, body: ServicersPut, rt: RuntimeDep, token: TokenDep
) -> ServicersOut:
    """Set the whole servicer list, in order, with per-servicer caps and names; WeCom's per-userid refusals
    are kept on the servicer (`in_wecom` false, `last_error`) and listed in `problems`."""
    sync = await servicers.set_servicers(rt, account_id, body.specs(), actor=f"api:{token.name}")
    view = await get_servicers(account_id, rt)
    return ServicersOut(servicers=view.servicers, problems=sync.problems)


@router.post("/{account_id}/servicers/refresh", response_model=ServicersOut)
async def refresh_servicers(account_id: IdPath, rt: RuntimeDep) -> ServicersOut:
    """Re-read kf/servicer/list: reception statuses and who is in WeCom's list."""
    await servicers.refresh_servicers(rt, account_id)
    return await get_servicers(account_id, rt)


@router.post("/{account_id}/link", response_model=LinkOut)
async def create_link(account_id: IdPath, body: LinkCreate, rt: RuntimeDep, token: TokenDep) -> LinkOut:
    """A new contact link (kf/add_contact_way) with an optional scene; 409 while disabled."""
    account = await contact.create_link(rt, account_id, scene=body.scene, actor=f"api:{token.name}")
    return LinkOut(url=contact.offered_link(account), scene=account.contact_scene)


@router.get("/{account_id}/link", response_model=LinkOut)
async def get_link(account_id: IdPath, rt: RuntimeDep, token: TokenDep) -> LinkOut:
    """The account's contact link (made on first request); 409 while the account is disabled."""
    url = await contact.link_for(rt, account_id, actor=f"api:{token.name}")
    async with rt.db.read() as session:
        scene = (await get_account(session, account_id)).contact_scene
    return LinkOut(url=url, scene=scene)


@router.get("/{account_id}/qr.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def qr_png(account_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    """The contact link as a QR code (PNG); 409 while the account is disabled."""
    url = await contact.link_for(rt, account_id, actor=f"api:{token.name}")
    return Response(contact.qr_code(url, "png"), media_type=contact.QR_FORMATS["png"])


@router.get(
    "/{account_id}/qr.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}}
)
async def qr_svg(account_id: IdPath, rt: RuntimeDep, token: TokenDep) -> Response:
    """The contact link as a QR code (SVG); 409 while the account is disabled."""
    url = await contact.link_for(rt, account_id, actor=f"api:{token.name}")
    return Response(contact.qr_code(url, "svg"), media_type=contact.QR_FORMATS["svg"])
