"""The deployment samples in docs/deploy/ stay true: every unit's ExecStart is a `kefu` command
whose options the CLI accepts, every unit reads the env file the sample sets up, and that file
names only variables Kefu's settings know."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest
import typer

from kefu.cli import app
from kefu.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def test_there_are_a_web_and_a_worker_unit() -> None:
    assert {path.name for path in UNITS} == {"kefu-web@.service", "kefu-worker@.service"}


@pytest.mark.parametrize("path", UNITS, ids=lambda path: path.name)
def test_each_unit_runs_a_kefu_command_the_cli_accepts(path: Path) -> None:
    service = unit(path)["Service"]
    argv = shlex.split(service["ExecStart"].replace("%i", "8001"))
    assert Path(argv[0]).name == "kefu"
    group = typer.main.get_command(app)
    context = group.make_context("kefu", argv[1:2], resilient_parsing=True)
    command = group.get_command(context, argv[1])  # type: ignore[attr-defined]
    assert command is not None, argv
    command.make_context(argv[1], argv[2:], parent=context)  # raises on an unknown option or bad value
    assert service["EnvironmentFile"] == "/etc/kefu/kefu.env"


def test_the_env_file_sets_only_settings_kefu_knows() -> None:
    names = [
        line.split("=", 1)[0]
        for line in (DEPLOY / "kefu.env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    known = {f"KEFU_{field.upper()}" for field in Settings.model_fields}
    assert names and set(names) <= known, set(names) - known
    assert {"KEFU_DATABASE_URL", "KEFU_SECRET_KEY", "KEFU_PUBLIC_URL"} <= set(names)
