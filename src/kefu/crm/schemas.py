"""What the CRM takes and answers: customers, contacts, WeChat customers and their bindings."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kefu.api.deps import IdField
from kefu.errors import Invalid
from kefu.schema_types import control_char

# A phone as people write it: digits with spaces, dashes and parentheses, an optional leading +,
# and an optional extension (转 8001, 分机 8001, ext 8001, x8001, #8001): 138 0013 8000,
# +86 138-0013-8000, (010) 6552 9988 转 8001. Checked in NFKC, so the full-width forms a Chinese
# keyboard types (＋86（010）６５５２　９９８８) pass as their ASCII twins; stored as typed. Checked
# by the service with the stored card at hand (check_formats), not by the schema: a value stored
# before the check existed is kept as long as nobody changes it.
PHONE = re.compile(r"(\+?[0-9 ()-]+?)\s*(?:(?:转|分机|ext\.?|x|#)\s*[0-9]{1,8})?", re.IGNORECASE)
PHONE_DIGITS = (5, 15)  # a short service number (95588) to E.164's longest, extension apart
# name@domain.tld: one "@", no spaces, a domain of dot-separated non-empty labels. No new
# dependency for more: pydantic's EmailStr needs email-validator, which Kefu does not install.
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
PHONE_RULE = "digits, spaces, +, - and parentheses, optionally an extension (转 8001)"


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="your CRM's key: the upsert key"
    )
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(
        default="", max_length=64, description=f"empty, or a phone: {PHONE_RULE}; checked when it changes"
    )
    email: str = Field(
        default="", max_length=200, description="empty, or name@domain.tld; checked when it changes"
    )
    tags: list[str] = Field(default_factory=list)
    notes: str = Field(default="", max_length=10_000)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    exclusive_userid: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="专属客服: the WeCom userid of a servicer of an account of the card's corp (any corp "
        "while no WeChat customer is bound); a stored one later removed from the servicers is kept",
    )


class CustomerIn(_Card):
    """A company."""


class ContactIn(_Card):
    """A person; `customer_id` or `customer_external_id` names their company (not both)."""

    customer_id: IdField | None = None
    customer_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    unionid: str | None = Field(default=None, min_length=1, max_length=64)


@dataclass(frozen=True)
class CardProblem:
    """A card's refused value: the field, the problem's code (the schema's `required`, `too_long`
    with its `max`; check_formats' `phone_invalid` and `email_invalid` with the `value`; "" for
    a reason without one) and the reason in English."""

    field: str
    problem: str
    values: dict[str, str | int]
    reason: str


def _a_phone(value: str) -> bool:
    found = PHONE.fullmatch(unicodedata.normalize("NFKC", value).strip())
    digits = sum(c.isdigit() for c in found.group(1)) if found else 0
    return PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]


def _an_email(value: str) -> bool:
    return EMAIL.fullmatch(value.strip()) is not None


FORMATS = (
    ("phone", _a_phone, "phone_invalid", f"not a phone number ({PHONE_RULE})"),
    ("email", _an_email, "email_invalid", "not an email address (name@example.com)"),
)


class CardInvalid(Invalid):
    """A card's phone or email that is not one: every such problem (the console shows each beside
    its field), the first's code and value for the API and the import."""

    def __init__(self, problems: list[CardProblem]) -> None:
        super().__init__("; ".join(p.reason for p in problems), problems[0].problem, problems[0].values)
        self.problems = problems


def check_formats(body: CustomerIn | ContactIn, stored: Mapping[str, object] | None) -> None:
    """CardInvalid unless the card's texts hold no control character (the rule of every text an
    admin writes, kefu.schema_types.control_char) and its phone and email are one (or empty).
    Cards stored before they were checked may hold any text: a value left as it is stored
    (`stored`: the card as saved, None for a new one) is not checked again, so such a card can be
    edited without retyping its phone first; a changed one is."""
    problems = _control_problems(body, stored or {})
    for field, valid, code, reason in FORMATS:
        value = str(getattr(body, field))
        unchanged = stored is not None and value.strip() == str(stored.get(field) or "").strip()
        refused = any(p.field == field for p in problems)  # one problem a field
        if value.strip() and not unchanged and not refused and not valid(value):
            problems.append(CardProblem(field, code, {"value": value}, f"{field}: {reason}"))
    if problems:
        raise CardInvalid(problems)


def _control_problems(body: CustomerIn | ContactIn, stored: Mapping[str, object]) -> list[CardProblem]:
    """The first new text of each field holding a control character: a tag, a custom field's key
    or value the stored card already holds is not new."""
    problems = []
    for field in type(body).model_fields:
        kept = set(_texts(stored.get(field)))
        char = next(
            (c for text in _texts(getattr(body, field)) if text not in kept and (c := control_char(text))),
            None,
        )
        if char:
            reason = f"{field}: holds an invisible control character ({char}); remove it"
            problems.append(CardProblem(field, "text_control", {"field": field, "char": char}, reason))
    return problems


def _texts(value: object) -> list[str]:
    """Every text in a field's value: itself, a list's items, a mapping's keys and values."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    if isinstance(value, Mapping):
        return [text for key, item in value.items() for text in (*_texts(key), *_texts(item))]
    return []


def card_problems(exc: ValidationError) -> list[CardProblem]:
    """The refusals of a card (CustomerIn, ContactIn), in pydantic's order."""
    found = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        reason = f"{where}: {error['msg']}" if where else error["msg"]
        problem, values = "", {}
        if error["type"] == "string_too_long":
            problem, values = "too_long", {"max": error["ctx"]["max_length"]}
        elif error["type"] in ("string_too_short", "missing"):
            problem = "required"  # every length minimum of a card is 1
        found.append(CardProblem(str(error["loc"][0]) if error["loc"] else "", problem, values, reason))
    return found


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    name: str
    phone: str
    email: str
    tags: list[str]
    notes: str
    custom_fields: dict[str, Any]
    exclusive_userid: str | None
    created_at: datetime
    updated_at: datetime


class ContactOut(CustomerOut):
    customer_id: int | None
    unionid: str | None
    effective_exclusive_userid: str | None = Field(
        default=None, description="the contact's exclusive servicer, else its company's"
    )


class WechatCustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    connection_id: int
    external_userid: str
    nickname: str
    avatar: str
    unionid: str | None
    contact_id: int | None
    fetched_at: datetime | None
    created_at: datetime


class BindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: IdField


class BindingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    wechat_customer_id: int
    contact_id: int | None = Field(description="null once the contact is deleted")
    contact_name: str = Field(description="the contact's name at the time")
    action: str
    by: str
    at: datetime
