"""What decide() asks the shell to do (actions), what a message says (content), and the Decision.

Content is a literal `Text`, a `Phrase` the shell renders (AI phrasing or the
fixed text: decide never picks a wording), or a `Menu` whose head, prompt and
tail are either. `to_outbound` turns content plus the rendered phrases into the WeCom
message (`TextOut` / `MenuOut`), fitted to WeCom's byte limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from kefu.ai.fit import MENU_HEAD_LIMIT, TEXT_LIMIT, fit_answer
from kefu.reception.core.state import CodeKind, ConversationState
from kefu.routing.core import RoutingDecision
from kefu.wecom.payloads import MenuClick, MenuOut, TextOut

CLICK_ID_MAX_BYTES = 64
CLICK_LABEL_MAX_BYTES = 128

Purpose = Literal[
    "ai_answer",
    "not_sure",
    "small_talk",
    "non_text_reply",
    "paused",
    "rating_thanks",
    "off_hours",
    "welcome",
    "pool_notice",
    "queue_full",
    "transfer_refused",
    "queue_timeout",
    "taken_notice",
    "no_reply_notice",
    "ending",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- content ---------------------------------------------------------------------------------


class Text(_Frozen):
    """A literal text (an AI answer already fitted, or a fixed Kefu text)."""

    kind: Literal["text"] = "text"
    text: str = Field(min_length=1)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Phrase(_Frozen):
    """A system message the shell words: `ai` = a fresh wording of `intent` (kefu.ai.phrasing.INTENTS)
    with `facts`; `fixed` = `fixed_text` with its `{name}` placeholders filled from the facts.

    The shell adds facts only it knows (the queue `position` of a pool notice, the `servicer`'s
    name in a taken notice).
    """

    kind: Literal["phrase"] = "phrase"
    intent: str
    mode: Literal["ai", "fixed"]
    fixed_text: str | None = None  # the admin's text; for mode ai, the meaning to keep
    facts: dict[str, str] = Field(default_factory=dict)
    # A pool notice's text for the first in line, chosen by the shell, which knows the position.
    next_in_line_text: str | None = None

    def fixed(self, extra_facts: Mapping[str, str] | None = None) -> str:
        """The fixed text, placeholders of known facts filled (unknown ones left as written)."""
        facts = {**self.facts, **(extra_facts or {})}
        return _PLACEHOLDER.sub(lambda m: facts.get(m[1], m[0]), self.fixed_text or "")


Part = Annotated[Text | Phrase, Field(discriminator="kind")]


def _check_bytes(value: str, what: str, limit: int) -> str:
    size = len(value.encode())
    if not 1 <= size <= limit:
        raise ValueError(f"{what} is {size} bytes; WeCom accepts 1–{limit}")
    return value


class MenuChoice(_Frozen):
    """A `click` item: tapping it makes the customer send `label` with `menu_id` = `id`."""

    id: str
    label: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _check_bytes(value, "click id", CLICK_ID_MAX_BYTES)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return _check_bytes(value, "click label", CLICK_LABEL_MAX_BYTES)


class Menu(_Frozen):
    """A `msgmenu`: head, click items, tail.

    `prompt` is the line right above the click items, sent in WeCom's head after `head` (one
    line break between): what the customer reads before the buttons, kept whole when the head
    must be cut. The tail comes after the buttons.
    """

    kind: Literal["menu"] = "menu"
    head: Part | None = None
    prompt: Part | None = None
    choices: list[MenuChoice] = Field(default_factory=list, max_length=10)
    tail: Part | None = None


Content = Annotated[Text | Phrase | Menu, Field(discriminator="kind")]


def phrases_of(content: Text | Phrase | Menu) -> list[Phrase]:
    """The phrases the shell must render for `content`, in order (head, prompt, tail)."""
    if isinstance(content, Phrase):
        return [content]
    if isinstance(content, Menu):
        parts = (content.head, content.prompt, content.tail)
        return [part for part in parts if isinstance(part, Phrase)]
    return []


def to_outbound(content: Text | Phrase | Menu, rendered: Sequence[str] = ()) -> TextOut | MenuOut:
    """The WeCom message for `content`, given the rendered text of each of `phrases_of(content)`.

    Texts are fitted to 2,048 bytes, menu heads and tails to 1,024 (cut at a sentence end); a
    menu's prompt is fitted first and its head gets the bytes the prompt leaves.
    Raises ValueError when the rendering is missing or leaves the message empty.
    """
    texts = iter(rendered)

    def part_text(part: Text | Phrase | None, limit: int) -> str | None:
        if part is None:
            return None
        text = part.text if isinstance(part, Text) else next(texts, None)
        if text is None:
            raise ValueError("a phrase of this content was not rendered")
        text = fit_answer(text.strip(), limit)
        return text or None

    if isinstance(content, Menu):
        first = part_text(content.head, MENU_HEAD_LIMIT)
        prompt = part_text(content.prompt, MENU_HEAD_LIMIT)
        tail = part_text(content.tail, MENU_HEAD_LIMIT)
        if first and prompt:  # one head of two lines: the head's text, then the prompt
            room = MENU_HEAD_LIMIT - len(prompt.encode()) - 1
            first = fit_answer(first, max(room, 0)).strip() or None
        head = "\n".join(t for t in (first, prompt) if t) or None
        items = [MenuClick(id=c.id, content=c.label) for c in content.choices]
        if not items:  # a menu without choices is just its text
            joined = "\n".join(t for t in (head, tail) if t)
            if not joined:
                raise ValueError("an empty message")
            return TextOut(content=fit_answer(joined, TEXT_LIMIT))
        return MenuOut(head_content=head, items=list(items), tail_content=tail)
    text = part_text(content, TEXT_LIMIT)
    if not text:
        raise ValueError("an empty message")
    return TextOut(content=text)


# --- actions ---------------------------------------------------------------------------------


class Send(_Frozen):
    """`kf/send_msg`. Only emitted when the mirror allows it (state 0/1, window, quota)."""

    kind: Literal["send"] = "send"
    purpose: Purpose
    content: Content


class SendOnEvent(_Frozen):
    """`kf/send_msg_on_event` with a live code; past `deadline` (if any) the shell drops it, never retries."""

    kind: Literal["send_on_event"] = "send_on_event"
    code: str
    code_kind: CodeKind
    purpose: Purpose
    content: Content
    deadline: AwareDatetime | None = None


class Transfer(_Frozen):
    """`kf/service_state/trans`; the shell feeds back TransferDone / TransferRefused."""

    kind: Literal["transfer"] = "transfer"
    target_state: Literal[2, 3, 4]
    servicer_userid: str | None = None  # for target 3


class Reconcile(_Frozen):
    """`kf/service_state/get`; the shell feeds back Reconciled."""

    kind: Literal["reconcile"] = "reconcile"


class RecordRating(_Frozen):
    """A survey answer for an ended session (first rating wins; decide already checked)."""

    kind: Literal["record_rating"] = "record_rating"
    session_no: int
    score: int
    label: str
    servicer_userid: str | None = None


class MarkRecalled(_Frozen):
    kind: Literal["mark_recalled"] = "mark_recalled"
    msgid: str
    by: Literal["customer", "servicer"]


class RecordSendFailure(_Frozen):
    """`msg_send_fail` against the message Kefu sent (`msgid` = its send's msgid)."""

    kind: Literal["record_send_failure"] = "record_send_failure"
    msgid: str
    fail_type: int


class RecordFollowUp(_Frozen):
    """A customer message left for servicers (留言): kept on the conversation's open follow-up."""

    kind: Literal["record_follow_up"] = "record_follow_up"
    msgid: str
    reason: Literal["off_hours", "queue_timeout"]


class RecordRouting(_Frozen):
    """A routing decision, kept with its explanation; the shell also moves the account's
    round-robin pointer to `decision.round_robin_last`."""

    kind: Literal["record_routing"] = "record_routing"
    decision: RoutingDecision
    reason: str


Action = Annotated[
    Send
    | SendOnEvent
    | Transfer
    | Reconcile
    | RecordRating
    | RecordRouting
    | RecordFollowUp
    | MarkRecalled
    | RecordSendFailure,
    Field(discriminator="kind"),
]


class TimelineEntry(_Frozen):
    """A state change or decision worth showing in the transcript (e.g. "transfer_requested")."""

    at: AwareDatetime
    kind: str
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)


class Decision(_Frozen):
    state: ConversationState
    actions: list[Action] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
