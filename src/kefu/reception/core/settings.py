"""What decide() knows about the account: its settings (the servicers come as a routing `Roster`).

`AccountSettings` reuses the account's settings types (kefu.accounts.settings_types, never a copy
of their fields), so the file, the console and the engine share one definition. Reception
hours are held as `kefu.hours.HoursSettings`, the model the hours calendar reads;
a config-file `Hours` is converted on the way in (same keys).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kefu.accounts.settings_types import AccountSettingsData
from kefu.ai.settings import AISettings
from kefu.hours import HoursSettings, ReceptionCalendar


def hours_settings(hours: Any) -> HoursSettings:
    """A config-file `hours:` section (or a dict of it) as the calendar's `HoursSettings`.

    The config file allows an off-hours message with no text (mode none, or ai);
    `HoursSettings` then keeps its default text, which AI phrasing may use as the meaning.
    """
    if isinstance(hours, HoursSettings):
        return hours
    data = hours.model_dump(mode="json") if isinstance(hours, BaseModel) else dict(hours)
    message = data.get("off_hours_message")
    if isinstance(message, dict) and not (message.get("text") or "").strip():
        data["off_hours_message"] = {k: v for k, v in message.items() if k != "text"}
    return HoursSettings.model_validate(data)


class AccountSettings(AccountSettingsData):
    """An account's stored settings (the same fields, one definition), frozen, plus `enabled` and
    the AI's "not sure" text. The servicer list is not here: `decide` gets it as a
    `kefu.routing.core.Roster` of `ServicerLoad`s, in the account's servicer order, with each one's
    cap already resolved."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    not_sure_text: str = Field(default_factory=lambda: AISettings().not_sure_text, min_length=1)

    @field_validator("hours", mode="before")
    @classmethod
    def _hours(cls, value: Any) -> HoursSettings:
        return hours_settings(value)

    @classmethod
    def from_config(
        cls, account: AccountSettingsData, ai: AISettings, *, enabled: bool | None = None
    ) -> AccountSettings:
        """From stored settings and the account's `enabled`, or from a config file's account
        entry, which carries its own `enabled`."""
        return cls(
            enabled=enabled if enabled is not None else getattr(account, "enabled", True),
            timezone=account.timezone,
            reception=account.reception,
            hours=hours_settings(account.hours),
            queue=account.queue,
            routing=account.routing,
            messages=account.messages,
            session=account.session,
            not_sure_text=ai.not_sure_text,
        )

    @cached_property
    def calendar(self) -> ReceptionCalendar:
        """The reception calendar (pure; `now` is always passed to it)."""
        return ReceptionCalendar(self.hours, self.timezone)
