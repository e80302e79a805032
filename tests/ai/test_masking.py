"""Personal data is masked before anything leaves for an LLM endpoint."""

from __future__ import annotations

import pytest

from kefu.ai.masking import mask_personal_data


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的手机号13812345678，尽快联系", "我的手机号[电话号码]，尽快联系"),
        ("电话 138 1234 5678", "电话 [电话号码]"),
        ("+86-139-1234-5678 找我", "[电话号码] 找我"),
        ("座机 021-62345678", "座机 [电话号码]"),
        ("身份证 11010519491231002X 实名", "身份证 [身份证号] 实名"),
        ("退到卡 6222 0202 0000 0000 006 吧", "退到卡 [银行卡号] 吧"),
        ("邮箱 zhang.san@example.com", "邮箱 [邮箱]"),
        # Where an address starts is a guess: the words before it may go too (the safe error).
        ("送到上海市浦东新区张杨路88号3栋1201室，谢谢", "[地址]，谢谢"),
        ("我家在幸福小区5号楼2单元301", "[地址]"),
        ("寄到 人民路100号 就行", "寄到 [地址] 就行"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "订单号 2024051812345 还没发货",  # 13 digits, fails Luhn
        "团队版每人每月30元，年付288元",
        "身份证 110105194912310021 实名",  # wrong check digit: not an ID number
        "退款多久到账",
    ],
)
def test_ordinary_text_and_numbers_stay(text: str) -> None:
    assert mask_personal_data(text) == text
