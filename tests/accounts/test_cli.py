"""`kefu connections …` and `kefu tokens …` through typer's CliRunner, against the test database."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from kefu.api.models import ApiToken
from kefu.api.tokens import hash_token
from kefu.runtime import Runtime
from tests.accounts.fixtures import AES_KEY, CB_TOKEN, ACliFn, CliFn, Corp

pytestmark = pytest.mark.db


def _add(cli: CliFn, corp: Corp, *extra: str, secret: str | None = None, env=None):  # type: ignore[no-untyped-def]
    return cli(
        "connections",
        "add",
        "--name",
        "qinghe",
        "--corp-id",
        corp.corpid,
        "--secret",
        secret or corp.secret,
        "--token",
        CB_TOKEN,
        "--aes-key",
        AES_KEY,
        *extra,
        env=env,
    )


def test_add_prints_id_callback_url_check_and_accounts(cli: CliFn, corp: Corp) -> None:
    result = _add(cli, corp)

    assert result.exit_code == 0, result.output
    assert "Connection 1 (qinghe) saved." in result.stdout
    assert (
        "Callback URL (paste into WeCom 微信客服 → API → 回调配置): http://kefu.test/wecom/callback/1"
        in result.stdout
    )
    assert "Check: OK" in result.stdout and "may manage 2 account(s)" in result.stdout
    assert f"{corp.unmanaged_kfid}  内部  (may NOT manage)" in result.stdout
    for plaintext in (corp.secret, CB_TOKEN, AES_KEY):
        assert plaintext not in result.output


def test_add_json_list_json_masked(cli: CliFn, corp: Corp) -> None:
    added = json.loads(_add(cli, corp, "--json", "--bootstrap", "backfill").stdout)
    assert added["connection"]["id"] == 1
    assert added["connection"]["callback_url"] == "http://kefu.test/wecom/callback/1"
    assert added["check"]["ok"] is True and len(added["check"]["accounts"]) == 3

    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["qinghe"]
    view = listed[0]
    assert view["bootstrap"] == "backfill" and len(view["accounts"]) == 2
    assert view["encoding_aes_key"] == "ab••••••FG" and view["callback_token"] == "cb••••••23"
    assert corp.secret not in json.dumps(listed)
    text_list = cli("connections", "list").stdout
    assert "qinghe" in text_list and "check OK" in text_list and corp.secret not in text_list


def test_failed_check_exits_2_in_one_line_unless_no_check(cli: CliFn, corp: Corp) -> None:
    refused = _add(cli, corp, secret="wrong")
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: Wrong secret")
    assert "Traceback" not in refused.output
    assert json.loads(cli("connections", "list", "--json").stdout) == []

    saved = _add(cli, corp, "--no-check", secret="wrong")
    assert saved.exit_code == 0 and "Check: FAILED (wrong_secret) — Wrong secret" in saved.stdout
    assert "last check: Wrong secret" in cli("connections", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--aes-key", "short"), "error: EncodingAESKey must be exactly 43 letters or digits"),
        (("--token", "no spaces please"), "error: callback token must be 1-32 letters or digits"),
        (("--bootstrap", "later"), "error: bootstrap must be one of skip, backfill"),
    ],
)
def test_bad_values_exit_2_with_a_clear_line(
    cli: CliFn, corp: Corp, args: tuple[str, str], message: str
) -> None:
    result = _add(cli, corp, *args)  # later options win in click
    assert result.exit_code == 2 and result.stderr.startswith(message), result.output


def test_update_and_delete(cli: CliFn, corp: Corp, rt: Runtime) -> None:
    assert _add(cli, corp).exit_code == 0

    updated = cli("connections", "update", "qinghe", "--name", "qh", "--token", "other1", "--json")
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.stdout)["connection"]["name"] == "qh"
    assert json.loads(updated.stdout)["check"] is None  # a new token needs no check

    bad = cli("connections", "update", "1", "--secret", "wrong")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: Wrong secret")

    checked = cli("connections", "check", "qh")
    assert checked.exit_code == 0 and "Check: OK" in checked.stdout

    missing = cli("connections", "delete", "7", "--yes")
    assert missing.exit_code == 2 and missing.stderr == "error: no connection with id 7\n"

    declined = cli("connections", "delete", "qh", input="n\n")
    assert declined.exit_code == 1 and "Delete connection 1 (qh) with its 2 account(s)" in declined.stdout
    unanswered = cli("connections", "delete", "qh")  # cron or CI: no terminal, nothing on stdin
    assert unanswered.exit_code == 2
    assert unanswered.stderr.startswith("error: nobody to answer 'Delete connection 1 (qh)")
    assert unanswered.stderr.endswith("(no terminal, nothing on stdin): add --yes to go ahead\n")
    deleted = cli("connections", "delete", "qh", "--yes")
    assert deleted.exit_code == 0 and "Deleted connection 1 (qh)." in deleted.stdout
    assert json.loads(cli("connections", "list", "--json").stdout) == []


async def test_tokens_create_list_revoke(acli: ACliFn, rt: Runtime) -> None:
    created = await acli("tokens", "create", "--name", "crm-sync")
    assert created.exit_code == 0, created.output
    token = created.stdout.splitlines()[1]
    assert token.startswith("kefu_") and len(token) > 40

    async with rt.db.read() as s:
        row = (await s.scalars(select(ApiToken))).one()
    assert row.token_hash == hash_token(token) and token not in (row.token_hash, row.prefix)

    again = await acli("tokens", "create", "--name", "crm-sync")
    assert again.exit_code == 2 and again.stderr.startswith("error: a token named 'crm-sync' already exists")
    listed = await acli("tokens", "list", "--json")
    assert json.loads(listed.stdout)["tokens"][0]["prefix"] == token[:12]
    assert token not in listed.stdout

    assert (await acli("tokens", "revoke", "crm-sync")).stdout == "API token 'crm-sync' revoked.\n"
    assert (await acli("tokens", "revoke", "crm-sync")).exit_code == 2


def test_a_command_run_in_process_leaves_the_callers_log_level_as_it_was(cli: CliFn) -> None:
    """A one-shot command logs at WARNING, then gives the caller (a test, a script) its own
    level back, for the standard library's loggers as for structlog."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.DEBUG)
    try:
        result = cli("connections", "list")
        assert result.exit_code == 0, result.output
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(before)


SECRETS_ENV = {"KEFU_CALLBACK_TOKEN": CB_TOKEN, "KEFU_AES_KEY": AES_KEY}


def test_add_takes_the_secrets_from_the_environment_and_says_so(cli: CliFn, corp: Corp) -> None:
    env = {"KEFU_CORP_SECRET": corp.secret, **SECRETS_ENV}
    result = cli("connections", "add", "--name", "qinghe", "--corp-id", corp.corpid, env=env)
    assert result.exit_code == 0, result.output
    assert "Check: OK" in result.stdout  # the secret reached WeCom's gettoken
    assert "Using KEFU_CORP_SECRET, KEFU_CALLBACK_TOKEN, KEFU_AES_KEY from the environment." in result.stderr
    view = json.loads(cli("connections", "list", "--json").stdout)[0]
    assert (view["callback_token"], view["encoding_aes_key"]) == ("cb••••••23", "ab••••••FG")
    for plaintext in (corp.secret, CB_TOKEN, AES_KEY):
        assert plaintext not in result.output


def test_add_reads_dash_values_from_stdin(cli: CliFn, corp: Corp) -> None:
    result = cli(
        "connections",
        "add",
        "--name",
        "qinghe",
        "--corp-id",
        corp.corpid,
        "--secret",
        "-",
        "--token",
        "-",
        "--aes-key",
        "-",
        input=f"{corp.secret}\n{CB_TOKEN}\n{AES_KEY}\n",  # e.g. from a secrets manager, piped
    )
    assert result.exit_code == 0, result.output
    assert "Check: OK" in result.stdout and AES_KEY not in result.output and corp.secret not in result.output
    view = json.loads(cli("connections", "list", "--json").stdout)[0]
    assert (view["callback_token"], view["encoding_aes_key"]) == ("cb••••••23", "ab••••••FG")


def test_update_takes_a_new_token_from_the_environment(cli: CliFn, corp: Corp) -> None:
    assert _add(cli, corp).exit_code == 0
    updated = cli("connections", "update", "qinghe", "--json", env={"KEFU_CALLBACK_TOKEN": "newToken99"})
    assert updated.exit_code == 0, updated.output
    assert updated.stderr.startswith("Using KEFU_CALLBACK_TOKEN from the environment.")
    assert json.loads(updated.stdout)["connection"]["callback_token"] == "ne••••••99"


@pytest.mark.parametrize(
    ("public_url", "why"),
    [
        (None, "KEFU_PUBLIC_URL is not set (default http://127.0.0.1:8000)"),
        ("http://127.0.0.1:9000", "KEFU_PUBLIC_URL=http://127.0.0.1:9000 is a loopback address"),
        ("http://localhost:9000", "KEFU_PUBLIC_URL=http://localhost:9000 is a loopback address"),
    ],
)
def test_add_warns_when_wecom_cannot_reach_the_callback_url(
    cli: CliFn, corp: Corp, public_url: str | None, why: str
) -> None:
    result = _add(cli, corp, env={"KEFU_PUBLIC_URL": public_url})  # None: unset
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"warning: {why}: WeCom cannot call this callback URL.")
    assert "export KEFU_PUBLIC_URL=https://" in result.stderr


def test_add_does_not_warn_about_a_reachable_public_url(cli: CliFn, corp: Corp) -> None:
    result = _add(cli, corp)  # KEFU_PUBLIC_URL=http://kefu.test
    assert result.exit_code == 0 and "warning" not in result.stderr
