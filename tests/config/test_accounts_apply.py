"""`kefu config apply` of ai, accounts and knowledge_base against the simulator over HTTP: the shared
example applies fully, a second apply is unchanged, export → apply is identical, --prune, and a
WeCom that cannot be reached changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from kefu.accounts.models import GlobalSetting, KfAccount, KnowledgeEntryRow, Servicer, SettingsVersion
from kefu.config.accounts import WeComStepFailed
from kefu.config.apply import apply_config
from kefu.config.export import export_config
from kefu.config.loader import ConfigFileError, load_config
from kefu.errors import Invalid
from kefu.runtime import Runtime
from kefu.simulator import SimulatorServer, setup
from tests.accounts.fixtures import ACliFn
from tests.config.test_schema import ENV, EXAMPLE

pytestmark = pytest.mark.db

CORP_ID = "ww0123456789abcdef"
OPEN_KFID = "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
KEY = f"qinghe/{OPEN_KFID}"


@pytest.fixture
def example_corp(rt: Runtime, simulator: SimulatorServer) -> SimulatorServer:
    """The example's corp in the simulator: its account (with the example's open_kfid), a second
    account, and the members the example lists as servicers."""
    rt.settings.wecom_api_base = simulator.url
    simulator.control("POST", "corps", json={"corpid": CORP_ID, "secret": ENV["QINGHE_KF_SECRET"]})
    world = simulator.state
    with world.lock:
        corp = world.corps[CORP_ID]
        account = setup.create_account(world, corp, "青禾家电售后")
        del world.accounts[account.open_kfid]
        corp.account_ids[corp.account_ids.index(account.open_kfid)] = OPEN_KFID
        account.open_kfid = OPEN_KFID
        world.accounts[OPEN_KFID] = account
        setup.create_account(world, corp, "售前咨询")
    for userid in ("zhangsan", "lisi", "wangwu"):
        simulator.control("POST", f"corps/{CORP_ID}/members", json={"userid": userid})
    return simulator


async def snapshot(rt: Runtime) -> dict[str, Any]:
    """Everything the config file sets, as stored."""
    async with rt.db.read() as s:
        accounts = (await s.scalars(select(KfAccount).order_by(KfAccount.id))).all()
        servicers = (await s.scalars(select(Servicer).order_by(Servicer.account_id, Servicer.position))).all()
        entries = (await s.scalars(select(KnowledgeEntryRow).order_by(KnowledgeEntryRow.id))).all()
        ai = await s.get(GlobalSetting, "ai")
        versions = await s.scalar(select(func.count(SettingsVersion.id)))
    return {
        "accounts": [
            (a.open_kfid, a.name, a.enabled, a.avatar_sha256, a.settings, a.settings_version)
            for a in accounts
        ],
        "servicers": [
            (s.account_id, s.userid, s.position, s.max_sessions, s.in_wecom, s.name) for s in servicers
        ],
        "entries": [
            (e.account_id, e.entry_id, e.question, e.answer, e.alt_questions, e.tags) for e in entries
        ],
        "ai": (ai.version, {k: v for k, v in ai.data.items() if not k.endswith("_sealed")}) if ai else None,
        "versions": versions,
    }


async def test_the_example_applies_fully_then_unchanged_and_export_applies_back_identically(
    rt: Runtime, example_corp: SimulatorServer, tmp_path: Path
) -> None:
    first = await apply_config(rt, load_config(EXAMPLE, ENV))

    assert [c.describe() for c in first.changes] == [
        "connections.qinghe: create",
        "ai.ai: update (openai, small_talk)",
        f"accounts.{KEY}: create (adopt)",
        f"knowledge_base.{KEY}: create (8 entries)",
    ]
    assert first.warnings == []
    view = example_corp.control("GET", f"accounts/{OPEN_KFID}")
    assert view["servicer_userids"] == ["zhangsan", "lisi", "wangwu"] and view["name"] == "青禾家电售后"
    with example_corp.state.lock:
        media_id = example_corp.state.accounts[OPEN_KFID].media_id
        assert example_corp.state.media[media_id].data == (EXAMPLE.parent / "avatars/qinghe.png").read_bytes()

    state = await snapshot(rt)
    [(_kfid, name, enabled, _sha, settings, version)] = [a for a in state["accounts"] if a[0] == OPEN_KFID]
    assert (name, enabled, version) == ("青禾家电售后", True, 1)
    assert settings["hours"]["weekly"]["mon"] == ["09:00-12:00", "13:30-18:00"]
    assert settings["queue"]["pool_notice"]["text"] == "正在为您排队，您前面还有 {position} 位"
    assert settings["queue"]["pool_notice"]["next_in_line_text"] == "正在为您排队，您是下一位，请稍候"
    assert settings["queue"]["transfer_refused_message"] == {"mode": "ai", "text": None}
    assert [r["rule"] for r in settings["routing"]["rules"]] == ["exclusive", "last", "idle", "round_robin"]
    assert [(s[1], s[3], s[5]) for s in state["servicers"]] == [
        ("zhangsan", 10, None),
        ("lisi", 3, "李四"),
        ("wangwu", None, "王五"),
    ]
    assert len(state["entries"]) == 8 and state["ai"][1]["openai"]["model"] == "qwen-plus"
    assert state["ai"][1]["small_talk"]["greeting"] == "您好，这里是青禾家电售后，请问有什么可以帮您？"
    assert state["ai"][1]["small_talk"]["acknowledgement"] == ""
    async with rt.db.read() as s:
        assert "sk-1" not in str((await s.get(GlobalSetting, "ai")).data)  # type: ignore[union-attr]

    rt.clock.advance(60)
    second = await apply_config(rt, load_config(EXAMPLE, ENV))
    assert {c.action for c in second.changes} == {"unchanged", "keep"}
    assert second.summary().endswith("unchanged (the database already matches the file)")
    assert await snapshot(rt) == state

    out = tmp_path / "export" / "kefu.yaml"
    out.parent.mkdir()
    exported = await export_config(rt, out_dir=out.parent)
    out.write_text(exported, encoding="utf-8")
    assert f"knowledge_base: kb/qinghe-{OPEN_KFID}.csv" in exported and "${LLM_API_KEY}" in exported
    assert "sk-1" not in exported and "s3cret" not in exported
    assert "  small_talk:\n    greeting: 您好，这里是青禾家电售后，请问有什么可以帮您？\n" in exported
    assert "    transfer_refused_message:\n      mode: ai\n" in exported

    again = await apply_config(rt, load_config(out, {}))  # no variables: every secret is kept
    assert {c.action for c in again.changes} == {"unchanged"}, [c.describe() for c in again.changes]
    assert await snapshot(rt) == state
    assert await export_config(rt, out_dir=out.parent) == exported


async def test_texts_stored_with_a_control_character_export_and_apply_back(
    rt: Runtime, example_corp: SimulatorServer, tmp_path: Path
) -> None:
    """An earlier Kefu stored texts with Word's line break (\\x0b) — a knowledge entry, the AI's
    not-sure text, an account's message — that the file now refuses: the export wrote them, and
    applying it refused its own kefu.yaml and kb/*.csv (all or nothing: nothing applied). The
    export leaves the invisible character out, so it applies back, each text losing only that."""
    await apply_config(rt, load_config(EXAMPLE, ENV))
    async with rt.db.write() as session:
        row = (await session.scalars(select(KnowledgeEntryRow).order_by(KnowledgeEntryRow.id))).first()
        assert row is not None
        answer = row.answer
        row.answer = f"{answer[:2]}\x0b{answer[2:]}"  # a trailing one the import strips
        ai = await session.get(GlobalSetting, "ai")
        assert ai is not None
        ai.data = {**ai.data, "not_sure_text": "这个问题\x0b我还不会"}
        account = await session.scalar(select(KfAccount).where(KfAccount.open_kfid == OPEN_KFID))
        assert account is not None
        taken = {"mode": "fixed", "text": "您好\x0b人工客服已接入\x1b"}
        account.settings = {
            **account.settings,
            "queue": {**account.settings["queue"], "taken_notice": taken},
        }
    out = tmp_path / "export" / "kefu.yaml"
    out.parent.mkdir()
    out.write_text(await export_config(rt, out_dir=out.parent), encoding="utf-8")
    again = await apply_config(rt, load_config(out, {}))
    assert [c.describe() for c in again.changes if c.action != "unchanged"] == [
        "ai.ai: update (not_sure_text)",
        f"accounts.{KEY}: update (queue)",
        f"knowledge_base.{KEY}: update (1 changed)",
    ]
    async with rt.db.read() as session:
        assert (await session.get(KnowledgeEntryRow, row.id)).answer == answer  # type: ignore[union-attr]
        assert (await session.get(GlobalSetting, "ai")).data["not_sure_text"] == "这个问题我还不会"  # type: ignore[union-attr]
        account = await session.get(KfAccount, account.id)
        assert account.settings["queue"]["taken_notice"]["text"] == "您好人工客服已接入"  # type: ignore[union-attr]


async def test_a_change_in_the_file_is_one_new_version_and_dry_run_needs_no_wecom(
    rt: Runtime, example_corp: SimulatorServer, tmp_path: Path
) -> None:
    await apply_config(rt, load_config(EXAMPLE, ENV))
    changed = _copy_example(
        tmp_path,
        {
            "      sat: []": '      sat: ["10:00-16:00"]',
            "lisi\n        max_sessions: 3": "lisi\n        max_sessions: 4",
            # A name left out is no name, as a cap left out is the default.
            "        name: 李四                      # how the console shows them" + NO_NAMES_IN_WECOM: "",
            "name: 王五": "name: 王小五",
        },
    )

    rt.settings.wecom_api_base = "http://127.0.0.1:9"  # a dry run only reads the database
    dry = await apply_config(rt, load_config(changed, ENV), dry_run=True)
    # The same avatar bytes from another path: only the path is recorded, nothing is uploaded.
    assert f"accounts.{KEY}: update (avatar, servicers, hours)" in [c.describe() for c in dry.changes]
    uploads = len(example_corp.state.media)

    rt.settings.wecom_api_base = example_corp.url
    before = await snapshot(rt)
    await apply_config(rt, load_config(changed, ENV))
    after = await snapshot(rt)
    assert after["versions"] == before["versions"] + 1
    account = next(a for a in after["accounts"] if a[0] == OPEN_KFID)
    assert account[5] == 2 and account[4]["hours"]["weekly"]["sat"] == ["10:00-16:00"]
    assert [(s[1], s[3], s[5]) for s in after["servicers"]] == [
        ("zhangsan", 10, None),
        ("lisi", 4, None),
        ("wangwu", None, "王小五"),
    ]
    assert len(example_corp.state.media) == uploads

    renamed = changed.with_name("renamed.yaml")  # beside it: a name is all that changes
    renamed.write_text(
        changed.read_text(encoding="utf-8").replace("name: 王小五", "name: 老王"), encoding="utf-8"
    )
    report = await apply_config(rt, load_config(renamed, ENV))
    assert [c.describe() for c in report.changes if c.action == "update"] == [
        f"accounts.{KEY}: update (servicers)"
    ]
    after = await snapshot(rt)
    assert ("wangwu", "老王") in [(s[1], s[5]) for s in after["servicers"]]

    no_ai = tmp_path / "no-ai.yaml"
    no_ai.write_text("version: 1\nai:\n  provider: none\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as refused:
        await apply_config(rt, load_config(no_ai, {}))
    assert refused.value.lines()[0].endswith(
        "no-ai.yaml:3: ai.provider: ai.provider none, but account 1 (青禾家电售后, not set by this file) "
        "uses reception mode ai_first, which needs an AI service: make it human_only first"
    )
    assert await snapshot(rt) == after


async def test_an_unreachable_wecom_changes_nothing(rt: Runtime, example_corp: SimulatorServer) -> None:
    rt.settings.wecom_api_base = "http://127.0.0.1:9"
    with pytest.raises(WeComStepFailed) as refused:
        await apply_config(rt, load_config(EXAMPLE, ENV))
    assert f"accounts.{KEY}: WeCom gettoken unreachable or unreadable" in refused.value.message
    assert "Nothing was changed in Kefu's database" in refused.value.message
    assert await snapshot(rt) == {"accounts": [], "servicers": [], "entries": [], "ai": None, "versions": 0}


async def test_problems_of_every_section_are_reported_at_once(rt: Runtime, tmp_path: Path) -> None:
    """A missing avatar and a missing knowledge base: both in one run (the accounts' problem
    alone was reported, and the knowledge base's only at the next try)."""
    example = _copy_example(tmp_path, {})
    (example.parent / "avatars" / "qinghe.png").unlink()
    (example.parent / "kb" / "qinghe.csv").unlink()
    with pytest.raises(ConfigFileError) as refused:
        await apply_config(rt, load_config(example, ENV), dry_run=True)
    reasons = [line.split(": ", 2)[1:] for line in refused.value.lines()]
    assert [path for path, _ in reasons] == ["accounts[0].avatar", "accounts[0].knowledge_base"]
    assert "No such file or directory" in reasons[1][1]


async def test_create_by_name_prune_and_bad_rows(
    rt: Runtime, example_corp: SimulatorServer, tmp_path: Path
) -> None:
    await apply_config(rt, load_config(EXAMPLE, ENV))
    by_name = _copy_example(tmp_path, NEW_SHOP_ONLY)
    created = await apply_config(rt, load_config(by_name, ENV))
    assert "accounts.qinghe/青禾新店: create" in [c.describe() for c in created.changes]
    assert any("created in WeCom" in n for n in created.notes)
    assert "青禾新店" in [a.name for a in example_corp.state.accounts.values()]
    again = await apply_config(rt, load_config(by_name, ENV))
    assert [c.describe() for c in again.changes if c.action != "keep"] == [
        "connections.qinghe: unchanged",
        "ai.ai: unchanged",
        "accounts.qinghe/青禾新店: unchanged",
        "knowledge_base.qinghe/青禾新店: unchanged",
    ]
    others = sorted(f"qinghe/{k}" for k, a in example_corp.state.accounts.items() if a.name != "青禾新店")
    assert sorted(c.name for c in again.changes if c.action == "keep") == others

    in_wecom = sorted(a.name for a in example_corp.state.accounts.values())
    pruned = await apply_config(rt, load_config(by_name, ENV), prune=True)
    assert sorted(c.name for c in pruned.changes if c.action == "remove") == others
    async with rt.db.read() as s:
        names = [a.name for a in (await s.scalars(select(KfAccount))).all()]
    assert names == ["青禾新店"]
    # --prune stops managing them; the accounts, their links and sessions stay in WeCom.
    assert sorted(a.name for a in example_corp.state.accounts.values()) == in_wecom
    assert all("it stays in WeCom" in n for n in pruned.notes if n.startswith("accounts.qinghe/wk"))

    await apply_config(rt, load_config(EXAMPLE, ENV))  # manage the example's account again
    with pytest.raises(Invalid, match="give both"):
        await apply_config(rt, load_config(by_name, ENV), delete_in_wecom=True)
    deleted = await apply_config(rt, load_config(by_name, ENV), prune=True, delete_in_wecom=True)
    (removed,) = [c for c in deleted.changes if c.action == "remove"]
    assert removed.describe().endswith("DELETE IT IN WECOM (--delete-in-wecom)")
    assert removed.name.split("/")[1] not in example_corp.state.accounts
    assert len(example_corp.state.accounts) == len(in_wecom) - 1

    bad = _copy_example(tmp_path, {}, kb="id,question,answer\nk1,问,答\nk2,,没有问题\n")
    with pytest.raises(ConfigFileError) as refused:
        await apply_config(rt, load_config(bad, ENV))
    assert any(
        "knowledge_base: kb/qinghe.csv line 3: question is empty" in line for line in refused.value.lines()
    )


NO_NAMES_IN_WECOM = " (WeCom's list has no names)\n"
# The example naming a new account by its name instead of adopting the existing one.
NEW_SHOP_ONLY = {
    f"    open_kfid: {OPEN_KFID}   # adopt an existing account; omit to create one by name\n": "",
    "name: 青禾家电售后": "name: 青禾新店",
}


def _copy_example(tmp_path: Path, replace: dict[str, str], kb: str | None = None) -> Path:
    """The example beside its avatar and knowledge base, with some text replaced."""
    folder = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
    shutil.copytree(EXAMPLE.parent, folder)
    text = (folder / "example.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    (folder / "example.yaml").write_text(text, encoding="utf-8")
    if kb is not None:
        (folder / "kb" / "qinghe.csv").write_text(kb, encoding="utf-8")
    return folder / "example.yaml"


async def test_the_cli_asks_before_deleting_in_wecom_and_no_answer_is_no(
    rt: Runtime, example_corp: SimulatorServer, tmp_path: Path, acli: ACliFn
) -> None:
    await apply_config(rt, load_config(EXAMPLE, ENV))
    only_new = _copy_example(tmp_path, NEW_SHOP_ONLY)
    refused = await acli("config", "apply", str(only_new), "--delete-in-wecom", env=ENV)
    assert refused.exit_code == 2 and "give both" in refused.output
    declined = await acli(
        "config", "apply", str(only_new), "--prune", "--delete-in-wecom", input="n\n", env=ENV
    )
    assert declined.exit_code == 1
    assert f"accounts.qinghe/{OPEN_KFID}: will be DELETED IN WECOM" in declined.output
    assert OPEN_KFID in example_corp.state.accounts
    async with rt.db.read() as s:
        assert OPEN_KFID in [a.open_kfid for a in (await s.scalars(select(KfAccount))).all()]

    confirmed = await acli(
        "config", "apply", str(only_new), "--prune", "--delete-in-wecom", input="y\n", env=ENV
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert OPEN_KFID not in example_corp.state.accounts
