"""docs/configuration.md documents every KEFU_* setting and every key of the config file."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from kefu.accounts.settings_types import MessageSetting
from kefu.config.schema import KefuConfig
from kefu.settings import Settings

DOC = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")


def _model_in(annotation: object) -> tuple[type[BaseModel] | None, bool]:
    """(the model inside an annotation, whether it is a list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    for arg in typing.get_args(annotation):
        model, in_list = _model_in(arg)
        if model is not None:
            return model, in_list or typing.get_origin(annotation) is list
    return None, False


def _keys(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        inner, in_list = _model_in(field.annotation)
        if inner is None:
            yield path
        elif issubclass(inner, MessageSetting):
            yield path  # {mode, text} is documented once; extra keys (survey options) below
            for extra in set(inner.model_fields) - set(MessageSetting.model_fields):
                sub, _ = _model_in(inner.model_fields[extra].annotation)
                yield from _keys(sub, f"{path}.{extra}[]") if sub else [f"{path}.{extra}"]
        else:
            yield from _keys(inner, path + ("[]" if in_list else ""))


def test_every_setting_is_documented() -> None:
    missing = [
        f"KEFU_{name.upper()}" for name in Settings.model_fields if f"`KEFU_{name.upper()}`" not in DOC
    ]
    assert missing == []


def test_every_config_key_is_documented() -> None:
    keys = list(_keys(KefuConfig, ""))
    assert "accounts[].hours.weekly.sat" in keys and "accounts[].messages.survey.options[].score" in keys
    assert [k for k in keys if f"`{k}`" not in DOC] == []
