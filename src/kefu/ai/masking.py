"""Masking personal data before a customer's words leave for an LLM endpoint.

Recognised: mainland ID card numbers (18 characters, checksum verified), bank card numbers
(13–19 digits passing the Luhn check), mobile numbers (11 digits starting 1[3-9], spaces or
dashes allowed, +86 too), landlines (0xx-xxxxxxxx), e-mail addresses, and street addresses
where they are recognisable (a road, street, lane, building, unit or room with a number).
Each becomes a placeholder naming what was there, so the model still knows what it was.
Over-masking a number is the safe error: an order number that passes Luhn is masked too.
"""

from __future__ import annotations

import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])"
)
_DIGIT_RUN = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[ -]?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A place name, then a number with a unit: 人民路88号, 3栋2单元501室, 幸福小区5号楼1203.
_ADDRESS = re.compile(
    r"(?:[\u4e00-\u9fff]{1,12}(?:省|市|区|县|镇|乡|街道))*"
    r"[\u4e00-\u9fff]{1,12}(?:路|街|道|巷|弄|胡同|大道|小区|花园|公寓|大厦|村)"
    r"[\d一二三四五六七八九十零〇\-#号栋幢楼单元室层座]*\d+[\d\-#号栋幢楼单元室层座]*"
)

ID_CARD = "[身份证号]"
BANK_CARD = "[银行卡号]"
PHONE = "[电话号码]"
EMAIL = "[邮箱]"
ADDRESS = "[地址]"


def mask_personal_data(text: str) -> str:
    """`text` with the personal data of the module docstring replaced by placeholders."""
    text = _ID_CARD.sub(lambda m: ID_CARD if _id_checksum_ok(m.group()) else m.group(), text)
    text = _DIGIT_RUN.sub(lambda m: BANK_CARD if _luhn_ok(m.group()) else m.group(), text)
    text = _MOBILE.sub(PHONE, text)
    text = _LANDLINE.sub(PHONE, text)
    text = _EMAIL.sub(EMAIL, text)
    return _ADDRESS.sub(ADDRESS, text)


def _id_checksum_ok(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def _luhn_ok(run: str) -> bool:
    digits = [int(d) for d in run if d.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
