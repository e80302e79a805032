"""fit_answer: one WeCom message, cut at a sentence end, never over the byte limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kefu.ai import MENU_HEAD_LIMIT, TEXT_LIMIT, fit_answer

SENTENCE = "您好，退货请在订单页面申请售后。"  # 16 characters, 48 bytes


def test_a_fitting_answer_is_unchanged() -> None:
    text = SENTENCE * 21  # 1008 bytes
    assert fit_answer(text, MENU_HEAD_LIMIT) == text
    assert fit_answer("", 0) == ""


def test_cut_at_the_last_sentence_end_that_fits() -> None:
    text = SENTENCE * 30  # 1440 bytes
    fitted = fit_answer(text, MENU_HEAD_LIMIT)
    assert fitted == SENTENCE * 21
    assert len(fitted.encode()) <= MENU_HEAD_LIMIT
    assert fit_answer(text, TEXT_LIMIT) == text


def test_every_sentence_end_counts() -> None:
    for end in "。！？!?；\n":
        text = "甲" * 300 + end + "乙" * 300
        assert fit_answer(text, 1024) == "甲" * 300 + end.strip()


def test_mid_sentence_cut_gets_an_ellipsis() -> None:
    text = "这是一句非常长的话" * 200  # no sentence end at all
    fitted = fit_answer(text, MENU_HEAD_LIMIT)
    assert fitted.endswith("…")
    assert text.startswith(fitted[:-1])
    assert len(fitted.encode()) <= MENU_HEAD_LIMIT
    assert len(fitted.encode()) > MENU_HEAD_LIMIT - 6  # never wastes more than a character


def test_a_sentence_end_too_early_is_not_worth_it() -> None:
    text = "好的。" + "这句话没有结束" * 300
    fitted = fit_answer(text, 1024)
    assert fitted.endswith("…") and len(fitted.encode()) > 1000


def test_multibyte_characters_are_never_split() -> None:
    text = "😀" * 10  # 4 bytes each
    assert fit_answer(text, 9) == "😀…"  # 4 + 3 bytes
    assert fit_answer("你好啊", 6) == "你…"
    assert fit_answer("你好", 5) == "…"
    assert fit_answer("你好", 2) == ""  # not even "…" fits


alphabet = st.sampled_from(list("你好世界退货。！？!?；;\n ,，abc1😀é"))


@given(text=st.text(alphabet=alphabet) | st.text(), limit=st.integers(min_value=0, max_value=300))
def test_result_fits_and_is_a_prefix(text: str, limit: int) -> None:
    fitted = fit_answer(text, limit)
    assert len(fitted.encode()) <= limit or fitted == text == ""
    if fitted.endswith("…") and not text.startswith(fitted):
        assert text.startswith(fitted[:-1])
    else:
        assert text.startswith(fitted)
    if len(text.encode()) <= limit:
        assert fitted == text
