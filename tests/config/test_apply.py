"""`kefu config apply|export`: all or nothing, idempotent, --prune, offline, and a faithful round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kefu.accounts import service
from kefu.accounts.models import Connection, KfAccount
from kefu.config.apply import apply_config
from kefu.config.export import export_config
from kefu.config.loader import ConfigFileError, load_config
from kefu.errors import DomainError
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer
from tests.accounts.fixtures import ACliFn
from tests.config.test_schema import AES, ENV, EXAMPLE

pytestmark = pytest.mark.db


def _entry(name: str, corp: str = "ww01", stem: str | None = None) -> str:
    stem = stem or name.upper()
    return (
        f"  - name: {name}\n    corp_id: {corp}\n    secret: ${{{stem}_KF_SECRET}}\n"
        f"    callback_token: ${{{stem}_CB_TOKEN}}\n    encoding_aes_key: ${{{stem}_AES_KEY}}\n"
    )


def _file(tmp_path: Path, *entries: str, name: str = "kefu.yaml") -> Path:
    path = tmp_path / name
    path.write_text("version: 1\nconnections:\n" + "".join(entries), encoding="utf-8")
    return path


def _env(*names: str, secret: str = "s3cret") -> dict[str, str]:
    env = {}
    for name in names:
        env |= {f"{name}_KF_SECRET": secret, f"{name}_CB_TOKEN": "tok123", f"{name}_AES_KEY": AES}
    return env


def _connections_of_example(tmp_path: Path) -> Path:
    """The example's connections section alone: it applies offline (accounts need WeCom)."""
    path = tmp_path / "connections.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").split("\nai:")[0] + "\n", encoding="utf-8")
    return path


async def _connections(rt: Runtime) -> dict[str, Connection]:
    async with rt.db.read() as s:
        return {c.name: c for c in await service.list_connections(s)}


async def test_the_example_connections_apply_offline_then_report_unchanged(
    rt: Runtime, tmp_path: Path
) -> None:
    example = _connections_of_example(tmp_path)
    first = await apply_config(rt, load_config(example, ENV))

    assert [c.describe() for c in first.changes] == ["connections.qinghe: create"]
    assert first.summary().endswith("applied (1 created)")
    assert any("saved, but the check against WeCom failed: WeCom unreachable" in w for w in first.warnings)
    stored = (await _connections(rt))["qinghe"]
    assert stored.last_check_ok is False and stored.corp_id == "ww0123456789abcdef"
    assert service.load_connection_secrets(rt, stored).aes_key == AES

    rt.clock.advance(60)
    second = await apply_config(rt, load_config(example, ENV))
    assert [c.action for c in second.changes] == ["unchanged"]
    assert second.summary().endswith("unchanged (the database already matches the file)")
    assert (await _connections(rt))["qinghe"].updated_at == stored.updated_at  # nothing was written


async def test_apply_checks_new_credentials_and_adopts_the_accounts(
    rt: Runtime, simulator: SimulatorServer, tmp_path: Path
) -> None:
    example = _connections_of_example(tmp_path)
    rt.settings.wecom_api_base = simulator.url
    simulator.control("POST", "corps", json={"corpid": "ww0123456789abcdef", "secret": "s3cret"})
    account = simulator.control("POST", "corps/ww0123456789abcdef/accounts", json={"name": "青禾家电售后"})

    report = await apply_config(rt, load_config(example, ENV))

    assert report.notes == [
        "connections.qinghe: Connected. This app may manage 1 account(s): "
        f"青禾家电售后 ({account['open_kfid']})."
    ]
    async with rt.db.read() as s:
        assert [a.name for a in (await s.scalars(select(KfAccount))).all()] == ["青禾家电售后"]

    # A changed secret variable updates (and re-checks) only that connection.
    changed = await apply_config(rt, load_config(example, ENV | {"QINGHE_KF_SECRET": "rotated"}))
    assert [c.describe() for c in changed.changes] == ["connections.qinghe: update (secret)"]
    assert any("Wrong secret" in w for w in changed.warnings)
    stored = (await _connections(rt))["qinghe"]
    assert service.load_connection_secrets(rt, stored).secret == "rotated" and stored.last_check_ok is False


async def test_unset_variables_keep_stored_secrets_but_a_new_connection_needs_them(
    rt: Runtime, tmp_path: Path
) -> None:
    path = _file(tmp_path, _entry("qinghe"))
    await apply_config(rt, load_config(path, _env("QINGHE")))

    kept = await apply_config(rt, load_config(path, {}))
    assert [c.action for c in kept.changes] == ["unchanged"]
    assert service.load_connection_secrets(rt, (await _connections(rt))["qinghe"]).secret == "s3cret"

    both = _file(tmp_path, _entry("qinghe", corp="ww02"), _entry("shop"))
    with pytest.raises(ConfigFileError) as refused:
        await apply_config(rt, load_config(both, {}))
    assert refused.value.lines()[0].endswith(
        "kefu.yaml:10: connections[1].secret: environment variable SHOP_KF_SECRET is not set, "
        "and a new connection needs it"
    )
    # All or nothing: the change to qinghe in the same file was not applied either.
    assert {n: c.corp_id for n, c in (await _connections(rt)).items()} == {"qinghe": "ww01"}


async def test_a_bad_reference_changes_nothing(rt: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "kefu.yaml"
    path.write_text(
        "version: 1\nconnections:\n"
        + _entry("qinghe")
        + "accounts:\n  - connection: nosuch\n    open_kfid: wk1\n"
    )
    with pytest.raises(
        ConfigFileError, match=r"kefu\.yaml:9: accounts\[0\]\.connection: no connection named"
    ):
        await apply_config(rt, load_config(path, _env("QINGHE")))
    assert await _connections(rt) == {}


async def test_prune_removes_only_when_asked_and_dry_run_changes_nothing(rt: Runtime, tmp_path: Path) -> None:
    await apply_config(
        rt, load_config(_file(tmp_path, _entry("qinghe"), _entry("old")), _env("QINGHE", "OLD"))
    )
    only_qinghe = load_config(_file(tmp_path, _entry("qinghe")), {})

    kept = await apply_config(rt, only_qinghe)
    assert [c.describe() for c in kept.changes][-1] == (
        "connections.old: not in the file, kept (use --prune to remove it)"
    )
    assert set(await _connections(rt)) == {"qinghe", "old"}

    dry = await apply_config(rt, only_qinghe, prune=True, dry_run=True)
    assert [c.action for c in dry.changes] == ["unchanged", "remove"]
    assert dry.summary().endswith("dry run, nothing was changed (1 to remove)")
    assert set(await _connections(rt)) == {"qinghe", "old"}

    shown: list[str] = []
    pruned = await apply_config(
        rt, only_qinghe, prune=True, announce=lambda r: shown.extend(c.describe() for c in r.changes)
    )
    assert shown == ["connections.qinghe: unchanged", "connections.old: remove (not in the file; --prune)"]
    assert pruned.summary().endswith("applied (1 removed)")
    assert set(await _connections(rt)) == {"qinghe"}


async def test_the_cli_asks_before_prune_removes_and_no_answer_is_no(
    rt: Runtime, acli: ACliFn, tmp_path: Path
) -> None:
    """A removed connection takes its accounts, conversations and messages with it: a file that
    forgot one section wiped a deployment's whole history without a question."""
    both = _file(tmp_path, _entry("qinghe"), _entry("old"), name="both.yaml")
    assert (await acli("config", "apply", str(both), env=_env("QINGHE", "OLD"))).exit_code == 0
    only_qinghe = str(_file(tmp_path, _entry("qinghe")))

    unanswered = await acli("config", "apply", only_qinghe, "--prune")  # no terminal, no stdin
    assert unanswered.exit_code == 2 and "add --yes to go ahead" in unanswered.output
    assert "connections.old: will be removed from Kefu" in unanswered.output
    declined = await acli("config", "apply", only_qinghe, "--prune", input="n\n")
    assert declined.exit_code == 1
    assert set(await _connections(rt)) == {"qinghe", "old"}

    confirmed = await acli("config", "apply", only_qinghe, "--prune", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert set(await _connections(rt)) == {"qinghe"}
    unasked = await acli("config", "apply", str(both), env=_env("QINGHE", "OLD"))
    assert unasked.exit_code == 0
    assert (await acli("config", "apply", only_qinghe, "--prune", "--yes")).exit_code == 0
    assert set(await _connections(rt)) == {"qinghe"}


async def test_export_round_trip(rt: Runtime, tmp_path: Path) -> None:
    await apply_config(
        rt,
        load_config(
            _file(tmp_path, _entry("qinghe"), _entry("shop-2", stem="SHOP_2")),
            _env("QINGHE", "SHOP_2") | {"SHOP_2_KF_SECRET": "other"},
        ),
    )
    exported = await export_config(rt)
    assert "secret: ${SHOP_2_KF_SECRET}" in exported and "s3cret" not in exported and AES not in exported
    path = tmp_path / "exported.yaml"
    path.write_text(exported, encoding="utf-8")

    for env in ({}, _env("QINGHE", "SHOP_2") | {"SHOP_2_KF_SECRET": "other"}):
        again = await apply_config(rt, load_config(path, env))
        assert [c.action for c in again.changes] == ["unchanged", "unchanged"]
    assert await export_config(rt) == exported


async def test_cli_apply_dry_run_export(rt: Runtime, acli: ACliFn, tmp_path: Path) -> None:
    dry = await acli("config", "apply", str(EXAMPLE), "--dry-run", env=ENV)
    assert dry.exit_code == 0, dry.output
    kfid = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
    assert dry.stdout.splitlines() == [
        "connections.qinghe: create",
        "ai.ai: update (openai, small_talk)",
        f"accounts.qinghe/{kfid}: create (adopt)",
        f"knowledge_base.qinghe/{kfid}: create (8 entries)",
        f"{EXAMPLE}: dry run, nothing was changed (3 to create, 1 to update)",
    ]
    offline = await acli("config", "apply", str(EXAMPLE), env=ENV)  # its accounts need WeCom
    assert offline.exit_code == 2 and "Nothing was changed in Kefu's database" in offline.stderr

    example = str(_connections_of_example(tmp_path))
    applied = await acli("config", "apply", example, env=ENV)
    assert applied.exit_code == 0 and applied.stdout.endswith("applied (1 created)\n")
    assert "warning: connections.qinghe: saved, but the check against WeCom failed" in applied.stderr
    again = await acli("config", "apply", example, env=ENV)
    assert again.stdout.splitlines()[-1].endswith("unchanged (the database already matches the file)")

    out = tmp_path / "out.yaml"
    assert (await acli("config", "export", "--out", str(out))).exit_code == 0
    assert "secret: ${QINGHE_KF_SECRET}" in out.read_text()
    assert (await acli("config", "export")).stdout == out.read_text()
    # A path that cannot be written is one error line (it was a traceback), and no folder is made.
    nowhere = await acli("config", "export", "--out", str(tmp_path / "no" / "kefu.yaml"))
    assert nowhere.exit_code == 2
    assert (
        nowhere.stderr
        == f"error: cannot write {tmp_path / 'no' / 'kefu.yaml'}: there is no folder {tmp_path / 'no'}\n"
    )
    assert not (tmp_path / "no").exists()
    a_folder = await acli("config", "export", "--out", str(tmp_path))
    assert a_folder.exit_code == 2 and a_folder.stderr == f"error: cannot write {tmp_path}: Is a directory\n"

    bad = _file(tmp_path, _entry("x").replace("ww01", "ww 01"), name="bad.yaml")
    refused = await acli("config", "apply", str(bad), env=_env("X"))
    assert refused.exit_code == 2
    assert (
        refused.stderr == f"error: {bad}:4: connections[0].corp_id: corp_id must be WeCom's 企业ID "
        "(我的企业 → 企业信息), without spaces, ≤ 64 characters\n"
    )
    new_unset = await acli("config", "apply", str(_file(tmp_path, _entry("y"), name="y.yaml")))
    assert new_unset.exit_code == 2 and "environment variable Y_KF_SECRET is not set" in new_unset.stderr
    assert isinstance(ConfigFileError("f", []), DomainError)
