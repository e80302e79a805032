"""A config file's text that Kefu cannot store — NUL (`"\\0"` in YAML: PostgreSQL's text columns
refuse it, and the settings' JSON took it, to be sent to customers) or an unpaired surrogate
(`"\\ud800"`) — or a message text holding a control character (`"\\v"`) is refused where it
stands, one error line with its line number, as any other bad value is, and nothing is applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.accounts.fixtures import ACliFn

pytestmark = pytest.mark.db


async def test_a_nul_in_a_config_value_is_one_error_line_and_nothing_is_applied(
    acli: ACliFn, tmp_path: Path
) -> None:
    path = tmp_path / "kefu.yaml"
    path.write_text('version: 1\nai:\n  not_sure_text: "不知道\\0呢"\n', encoding="utf-8")
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 2, applied.output
    said = "kefu.yaml:3: ai.not_sure_text: holds NUL (\\0), which Kefu cannot store\n"
    assert applied.output.endswith(said)
    exported = await acli("config", "export")
    assert "\\0" not in exported.stdout and "不知道" not in exported.stdout


async def test_a_nul_in_a_config_key_is_refused_too(acli: ACliFn, tmp_path: Path) -> None:
    """ai.synonyms' terms are keys, stored as they are."""
    path = tmp_path / "kefu.yaml"
    path.write_text('version: 1\nai:\n  synonyms:\n    "发\\0票": [fapiao]\n', encoding="utf-8")
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 2, applied.output
    assert applied.output.endswith(
        "kefu.yaml:4: ai.synonyms.发\\0票: holds NUL (\\0), which Kefu cannot store\n"
    )


async def test_a_lone_surrogate_in_a_config_value_is_one_error_line_and_nothing_is_applied(
    acli: ACliFn, tmp_path: Path
) -> None:
    """YAML's "\\ud800" escape makes text no encoding can write: storing it (PostgreSQL) or
    sending it to WeCom failed later, far from the file."""
    path = tmp_path / "kefu.yaml"
    path.write_text('version: 1\nai:\n  not_sure_text: "不知道\\ud800呢"\n', encoding="utf-8")
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 2, applied.output
    said = "kefu.yaml:3: ai.not_sure_text: holds an unpaired surrogate (\\ud800), which Kefu cannot store\n"
    assert applied.output.endswith(said)
    assert "不知道" not in (await acli("config", "export")).stdout


async def test_a_lone_surrogate_in_a_config_key_is_refused_and_printed_escaped(
    acli: ACliFn, tmp_path: Path
) -> None:
    path = tmp_path / "kefu.yaml"
    path.write_text('version: 1\nai:\n  synonyms:\n    "发\\udc80票": [fapiao]\n', encoding="utf-8")
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 2, applied.output
    assert applied.output.endswith(
        "kefu.yaml:4: ai.synonyms.发\\udc80票: holds an unpaired surrogate (\\udc80),"
        " which Kefu cannot store\n"
    )


async def test_an_escaped_surrogate_pair_is_the_character_it_means(acli: ACliFn, tmp_path: Path) -> None:
    """JSON (which YAML reads) escapes 😀 as "\\ud83d\\ude00"; PyYAML took it as two lone surrogates."""
    path = tmp_path / "kefu.yaml"
    path.write_text('version: 1\nai:\n  not_sure_text: "不知道\\ud83d\\ude00"\n', encoding="utf-8")
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 0, applied.output
    assert "not_sure_text: 不知道😀" in (await acli("config", "export")).stdout


async def test_a_control_character_in_a_message_text_is_one_error_line_and_nothing_is_applied(
    acli: ACliFn, tmp_path: Path
) -> None:
    """The AI's own texts are refused as the knowledge base's entries are: Word's line break
    (`\\v`) or an escape (`\\e`), each named by its line and path; tabs and line breaks are text."""
    path = tmp_path / "kefu.yaml"
    path.write_text(
        'version: 1\nai:\n  not_sure_text: "不知道\\v呢"\n  small_talk:\n    goodbye: "再见\\e[0m"\n',
        encoding="utf-8",
    )
    applied = await acli("config", "apply", str(path))
    assert applied.exit_code == 2, applied.output
    assert applied.output.replace(f"{tmp_path}/", "").endswith(
        "error: kefu.yaml:3: ai.not_sure_text: holds an invisible control character (\\x0b); remove it\n"
        "error: kefu.yaml:5: ai.small_talk.goodbye: holds an invisible control character (\\x1b); "
        "remove it\n"
    )
    assert "不知道" not in (await acli("config", "export")).stdout
    path.write_text('version: 1\nai:\n  not_sure_text: "不知道\\t呢\\n请转人工"\n', encoding="utf-8")
    assert (await acli("config", "apply", str(path))).exit_code == 0
