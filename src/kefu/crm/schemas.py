"""What the CRM takes and answers: customers, contacts, WeChat customers and their bindings."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from kefu.api.deps import IdField

# A phone as people write it: digits with spaces, dashes and parentheses, an optional leading +,
# and an optional extension (转 8001, 分机 8001, ext 8001, x8001, #8001): 138 0013 8000,
# +86 138-0013-8000, (010) 6552 9988 转 8001. Checked in NFKC, so the full-width forms a Chinese
# keyboard types (＋86（010）６５５２　９９８８) pass as their ASCII twins; stored as typed.
PHONE = re.compile(r"(\+?[0-9 ()-]+?)\s*(?:(?:转|分机|ext\.?|x|#)\s*[0-9]{1,8})?", re.IGNORECASE)
PHONE_DIGITS = (5, 15)  # a short service number (95588) to E.164's longest, extension apart
# name@domain.tld: one "@", no spaces, a domain of dot-separated non-empty labels. No new
# dependency for more: pydantic's EmailStr needs email-validator, which Kefu does not install.
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
PHONE_RULE = "digits, spaces, +, - and parentheses, optionally an extension (转 8001)"
CARD_FORMAT_PROBLEMS = ("phone_invalid", "email_invalid")


class _Card(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="your CRM's key: the upsert key"
    )
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(default="", max_length=64, description=f"empty, or a phone: {PHONE_RULE}")
    email: str = Field(default="", max_length=200, description="empty, or name@domain.tld")
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

    @field_validator("phone")
    @classmethod
    def _a_phone(cls, value: str) -> str:
        found = PHONE.fullmatch(unicodedata.normalize("NFKC", value).strip())
        digits = sum(c.isdigit() for c in found.group(1)) if found else 0
        if value.strip() and not PHONE_DIGITS[0] <= digits <= PHONE_DIGITS[1]:
            raise PydanticCustomError("phone_invalid", f"not a phone number ({PHONE_RULE})", {"value": value})
        return value

    @field_validator("email")
    @classmethod
    def _an_email(cls, value: str) -> str:
        if value.strip() and not EMAIL.fullmatch(value.strip()):
            raise PydanticCustomError(
                "email_invalid", "not an email address (name@example.com)", {"value": value}
            )
        return value


class CustomerIn(_Card):
    """A company."""


class ContactIn(_Card):
    """A person; `customer_id` or `customer_external_id` names their company (not both)."""

    customer_id: IdField | None = None
    customer_external_id: str | None = Field(default=None, min_length=1, max_length=64)
    unionid: str | None = Field(default=None, min_length=1, max_length=64)


@dataclass(frozen=True)
class CardProblem:
    """A card's value its schema refused: the field, the problem's code (`required`, `too_long`
    with its `max`, `phone_invalid` and `email_invalid` with the `value`; "" for a reason without
    one) and the reason in English."""

    field: str
    problem: str
    values: dict[str, str | int]
    reason: str


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
        elif error["type"] in CARD_FORMAT_PROBLEMS:
            problem, values = error["type"], {"value": error["ctx"]["value"]}
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
