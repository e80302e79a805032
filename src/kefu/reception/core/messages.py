"""The contents of Kefu's messages, built from the account's settings; click ids and keywords.

Pure helpers: nothing here words a message (the shell does, from a Phrase).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from kefu.ai.fit import MENU_HEAD_LIMIT, TEXT_LIMIT, fit_answer
from kefu.reception.core.actions import Menu, MenuChoice, Phrase, Text
from kefu.reception.core.settings import AccountSettings

TRANSFER_CLICK_ID = "kefu_transfer"
RATING_CLICK_PREFIX = "kefu_rate"
RATING_THANKS_TEXT = "感谢您的评价！"
_RATING_ID = re.compile(rf"^{RATING_CLICK_PREFIX}:(\d{{1,18}}):(\d{{1,2}}):(\d{{1,3}})$")


class _MessageSetting(Protocol):
    """`MessageSetting` of the config file, or the hours' `OffHoursMessage`: the same keys."""

    @property
    def mode(self) -> str: ...

    @property
    def text(self) -> str | None: ...


def phrase_for(setting: _MessageSetting, intent: str, facts: dict[str, str] | None = None) -> Phrase | None:
    """The Phrase for a message setting (AI phrasing or fixed text); None when its mode is none."""
    if setting.mode == "none":
        return None
    text = (setting.text or "").strip() or None
    if setting.mode == "fixed":
        if text is None:  # the config refuses this; stay silent rather than send nothing-text
            return None
        return Phrase(intent=intent, mode="fixed", fixed_text=text, facts=facts or {})
    return Phrase(intent=intent, mode="ai", fixed_text=text, facts=facts or {})


def pool_notice_phrase(settings: AccountSettings) -> Phrase | None:
    """The queue message, with its text for the first in line (the shell picks by position)."""
    notice = settings.queue.pool_notice
    phrase = phrase_for(notice, "pool_notice")
    if phrase is None or not (notice.next_in_line_text or "").strip():
        return phrase
    return phrase.model_copy(update={"next_in_line_text": notice.next_in_line_text})


# --- keywords --------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """Case and full/half width folded: "ＡＢｃ" and "abc" compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def _needles(keywords: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Each keyword with what is looked for in a normalised text (empty ones never match)."""
    for keyword in keywords:
        if needle := normalise(keyword).strip():
            yield keyword, needle


def matches_keyword(text: str, keywords: Iterable[str]) -> str | None:
    """The first keyword `text` contains (after normalising both), or None."""
    folded = normalise(text)
    return next((keyword for keyword, needle in _needles(keywords) if needle in folded), None)


def without_keywords(text: str, keywords: Iterable[str]) -> str:
    """`text` normalised as `matches_keyword` reads it, with every keyword taken out."""
    rest = normalise(text)
    for _keyword, needle in _needles(keywords):
        rest = rest.replace(needle, "")
    return rest


# --- AI answers ------------------------------------------------------------------------------


def answer_content(text: str, *, button_text: str | None) -> Text | Menu:
    """One AI message: a plain text, or a menu with the answer as head and the transfer button."""
    if button_text is None:
        return Text(text=fit_answer(text, TEXT_LIMIT))
    return Menu(
        head=Text(text=fit_answer(text, MENU_HEAD_LIMIT)),
        choices=[MenuChoice(id=TRANSFER_CLICK_ID, label=button_text)],
    )


# --- survey ----------------------------------------------------------------------------------


class RatingClick(BaseModel):
    """What a survey click id says: which ended session, which option, what score."""

    model_config = ConfigDict(frozen=True)

    session_no: int
    option: int
    score: int


def rating_click_id(session_no: int, option: int, score: int) -> str:
    """E.g. "kefu_rate:12:0:100" — at most 35 bytes, well under WeCom's 64."""
    return f"{RATING_CLICK_PREFIX}:{session_no}:{option}:{score}"


def parse_rating(menu_id: str | None) -> RatingClick | None:
    match = _RATING_ID.match(menu_id or "")
    if match is None:
        return None
    return RatingClick(session_no=int(match[1]), option=int(match[2]), score=int(match[3]))


def ending_content(
    settings: AccountSettings, session_no: int, *, with_survey: bool = True
) -> Phrase | Menu | None:
    """The ending message and the survey as ONE message (one 20-second code allows one).

    Both: a menu whose head is the ending, then the survey prompt, above the click items (the
    ratings); nothing after them. Only the ending: its text. Only the survey: a menu of its
    prompt and ratings. Neither: None. Each text stays a phrase of its own, so AI phrasing
    rewords each and neither is lost in the other. `with_survey` False: the ending alone.
    """
    ending = phrase_for(settings.messages.ending, "ending")
    if not with_survey:
        return ending
    survey = settings.messages.survey
    prompt = phrase_for(survey, "survey")
    choices = [
        MenuChoice(id=rating_click_id(session_no, i, option.score), label=option.label)
        for i, option in enumerate(survey.options)
    ]
    if prompt is None or not choices:
        return ending
    return Menu(head=ending, prompt=prompt, choices=choices)


# --- off hours -------------------------------------------------------------------------------


def off_hours_phrase(settings: AccountSettings, now: datetime) -> Phrase | None:
    """The off-hours message; facts: `hours` (the schedule in words) and `next_opening`."""
    calendar = settings.calendar
    facts = {"hours": calendar.describe()}
    opening = calendar.next_opening(now)
    facts["next_opening"] = calendar.describe_opening(opening, now) if opening is not None else ""
    return phrase_for(settings.hours.off_hours_message, "off_hours", facts)
