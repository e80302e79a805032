"""The config file schema v1: the example validates; bad files are refused as FILE:LINE: PATH: reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from kefu.config.loader import ConfigFileError, load_config
from kefu.config.schema import Account
from kefu.schema_types import UnsetVar

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "config" / "example.yaml"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ENV = {
    "QINGHE_KF_SECRET": "s3cret",
    "QINGHE_CB_TOKEN": "tok123",
    "QINGHE_AES_KEY": AES,
    "LLM_API_KEY": "sk-1",
}

CONNECTION = f"""version: 1
connections:
  - name: qinghe
    corp_id: ww01
    secret: s3cret
    callback_token: tok123
    encoding_aes_key: {AES}
"""


def _errors(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "kefu.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError) as refused:
        load_config(path, env or {})
    return refused.value.lines()


def test_the_example_validates_with_its_variables_set() -> None:
    loaded = load_config(EXAMPLE, ENV)
    config = loaded.config

    assert config.connections[0].secret == "s3cret" and config.connections[0].encoding_aes_key == AES
    assert config.ai.provider == "builtin" and config.ai.openai and config.ai.openai.api_key == "sk-1"
    account = config.accounts[0]
    assert account.name == "青禾家电售后" and account.timezone == "Asia/Shanghai"
    assert [s.max_sessions for s in account.servicers] == [10, 3, None]
    assert account.reception.button_transfer.text == "转人工"
    assert [str(p) for p in account.hours.weekly.mon] == ["09:00-12:00", "13:30-18:00"]
    assert account.hours.weekly.sat == []
    assert [r.rule for r in account.routing.rules] == ["exclusive", "last", "idle", "round_robin"]
    assert [o.score for o in account.messages.survey.options] == [5, 4, 3, 1]
    assert account.queue.pool_notice.text == "正在为您排队，您前面还有 {position} 位"
    assert account.session.ai_idle_timeout_minutes is None
    assert loaded.base_dir == EXAMPLE.parent


def test_unset_secret_variables_mean_keep_the_stored_value() -> None:
    config = load_config(EXAMPLE, {}).config
    assert config.connections[0].secret == UnsetVar("QINGHE_KF_SECRET")
    assert config.connections[0].callback_token == UnsetVar("QINGHE_CB_TOKEN")
    assert config.ai.openai and config.ai.openai.api_key == UnsetVar("LLM_API_KEY")


def test_an_account_gets_the_documented_defaults() -> None:
    account = Account(connection="qinghe", open_kfid="wk1")

    assert account.enabled and account.timezone == "Asia/Shanghai"
    assert account.reception.mode == "ai_first" and account.reception.non_text_reply.mode == "fixed"
    assert [str(p) for p in account.hours.weekly.mon] == ["09:00-18:00"] and account.hours.weekly.sun == []
    assert account.hours.statutory_holidays and account.hours.wait_for_opening
    assert account.queue.default_max_sessions == 10 and account.queue.max_length is None
    assert [r.rule for r in account.routing.rules] == ["idle"]
    assert account.messages.welcome.mode == "none"


def test_variables_in_plain_strings_and_dollar_escape(tmp_path: Path) -> None:
    path = tmp_path / "kefu.yaml"
    path.write_text(
        CONNECTION.replace("corp_id: ww01", "corp_id: ${CORP}") + "ai:\n  not_sure_text: 价格 $$5\n"
    )
    config = load_config(path, {"CORP": "ww99"}).config
    assert config.connections[0].corp_id == "ww99" and config.ai.not_sure_text == "价格 $5"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n      weekly:\n"
            '        mon: ["09:00-12:00", "22:00-02:00"]\n',
            "kefu.yaml:13: accounts[0].hours.weekly.mon[1]: 22:00-02:00: the end is before the start; "
            "split it at midnight: 22:00-24:00 on this day and 00:00-02:00 on the next",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n      weekly:\n"
            '        tue: ["09:00-12:00", "11:00-13:00"]\n',
            "kefu.yaml:13: accounts[0].hours.weekly.tue: 09:00-12:00 and 11:00-13:00 overlap",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    reception:\n"
            "      button_transfer: {text: " + "转" * 43 + "}\n",
            "kefu.yaml:12: accounts[0].reception.button_transfer.text: the button text is 129 bytes in "
            "UTF-8; WeCom allows at most 128",
        ),
        (
            CONNECTION
            + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    reception: {mode: ai_frist}\n",
            "kefu.yaml:11: accounts[0].reception.mode: Input should be 'ai_first', 'ai_only' or 'human_only' "
            "(got 'ai_frist')",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    messages:\n"
            "      welcome: {mode: fixed}\n",
            "kefu.yaml:12: accounts[0].messages.welcome: mode fixed needs a text",
        ),
        (  # YAML's "\v" (Word's line break), as the knowledge base refuses it
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    messages:\n"
            '      welcome: {mode: fixed, text: "欢迎\\v光临"}\n',
            "kefu.yaml:12: accounts[0].messages.welcome.text: holds an invisible control character "
            "(\\x0b); remove it",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n"
            '      off_hours_message: {mode: fixed, text: "下班了\\e[0m"}\n',
            "kefu.yaml:12: accounts[0].hours.off_hours_message.text: holds an invisible control character "
            "(\\x1b); remove it",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    servicers:\n"
            '      - {userid: lisi, name: " "}\n',
            "kefu.yaml:12: accounts[0].servicers[0].name: a servicer's name must not be blank "
            "(leave it out for none)",
        ),
        (  # past the cap's bound (the INTEGER column's range was a server error at apply)
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    servicers:\n"
            "      - {userid: lisi, max_sessions: 99999999999999999999}\n",
            "kefu.yaml:12: accounts[0].servicers[0].max_sessions: Input should be less than or equal to 1000",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    avatar: a.png\n",
            "kefu.yaml:9: accounts[0]: give open_kfid to adopt an existing account, or a name to create one",
        ),
        (
            CONNECTION + "    bootstrap: sometimes\n",
            "kefu.yaml:8: connections[0].bootstrap: Input should be 'skip' or 'backfill' (got 'sometimes')",
        ),
        (
            CONNECTION.replace("tok123", "bad token!"),
            "kefu.yaml:6: connections[0].callback_token: callback token must be 1-32 letters or digits",
        ),
        (
            CONNECTION + "    corpid: ww02\n",
            "kefu.yaml:8: connections[0].corpid: unknown key 'corpid' (check its spelling;",
        ),
        (
            CONNECTION + "    corp_id: ww02\n",
            "kefu.yaml:8: connections[0].corp_id: duplicate key",
        ),
        (
            CONNECTION + CONNECTION.split("connections:\n")[1],
            "kefu.yaml:8: connections[1]: 'qinghe' is already named by connections[0]",
        ),
        (
            CONNECTION.replace("version: 1", "version: 2"),
            "kefu.yaml:1: version: must be 1 (this Kefu reads schema version 1), got 2",
        ),
        (
            CONNECTION.replace("version: 1", "version: '1'"),
            "kefu.yaml:1: version: must be 1 (this Kefu reads schema version 1), got '1'",
        ),
        (
            CONNECTION.replace("version: 1\n", "# Kefu\n"),
            "kefu.yaml:1: version: required key is missing; the file starts with `version: 1`",
        ),
        (
            CONNECTION.replace("corp_id: ww01", "corp_id: ${CORP_ID}"),
            "kefu.yaml:4: connections[0].corp_id: environment variable CORP_ID is not set",
        ),
        (
            CONNECTION.replace("secret: s3cret", "secret: pre-${PART}"),
            "kefu.yaml:5: connections[0].secret: environment variable PART is not set",
        ),
        (
            CONNECTION.replace("    corp_id: ww01\n", ""),
            "kefu.yaml:3: connections[0].corp_id: required key is missing",
        ),
        (  # the admin's own wordings of the AI's messages are held to the same rule
            'version: 1\nai:\n  phrases:\n    off_hours: ["现在是\\v非工作时间"]\n',
            "kefu.yaml:4: ai.phrases.off_hours[0]: holds an invisible control character (\\x0b); remove it",
        ),
        (
            'version: 1\nai:\n  phrases:\n    greeting: ["您好"]\n',
            "kefu.yaml:3: ai.phrases: unknown intent 'greeting'; intents: off_hours,",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n"
            "      closed_dates: [2026-12-31, 2026-02-30]\n",
            "kefu.yaml:12: accounts[0].hours.closed_dates[1]: Input should be a valid date or datetime, "
            "day value is outside expected range (got '2026-02-30')",
        ),
        (
            CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n"
            "      extra_working_dates: [2026-13-01]\n",
            "kefu.yaml:12: accounts[0].hours.extra_working_dates[0]: Input should be a valid date or "
            "datetime, month value is outside expected range of 1-12 (got '2026-13-01')",
        ),
        ("", "kefu.yaml: the file is empty; it starts with `version: 1`"),
        ("version: 1\nconnections: [\n", "kefu.yaml:3: not valid YAML"),
        ("- version: 1\n", "kefu.yaml:1: the top level must be a mapping"),
    ],
)
def test_bad_files_name_file_line_path_and_reason(tmp_path: Path, text: str, expected: str) -> None:
    lines = [line.replace(str(tmp_path) + "/", "") for line in _errors(tmp_path, text)]
    assert any(line.startswith(expected) for line in lines), lines


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = CONNECTION.replace("tok123", "bad token!").replace(AES, "short") + "    bootstrap: never\n"
    assert len(_errors(tmp_path, text)) == 3


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"nope\.yaml: file not found"):
        load_config(tmp_path / "nope.yaml", {})


def test_dates_and_hours_consistency(tmp_path: Path) -> None:
    text = CONNECTION + (
        "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n"
        "      closed_dates: [2026-12-31]\n      extra_working_dates: [2026-12-31]\n"
    )
    assert any(
        "2026-12-31 is both a closed date and an extra working date" in line
        for line in _errors(tmp_path, text)
    )
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        CONNECTION + "accounts:\n  - connection: qinghe\n    open_kfid: wk1\n    hours:\n"
        "      closed_dates: [2026-12-31, '2027-01-01']\n"
    )
    assert load_config(ok, {}).config.accounts[0].hours.closed_dates == [date(2026, 12, 31), date(2027, 1, 1)]
