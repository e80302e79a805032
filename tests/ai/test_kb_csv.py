"""Knowledge base CSV import: encodings Excel produces, and bad rows reported by line with good rows kept."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from openpyxl import Workbook

from kefu.ai import KbCsvError, KnowledgeEntry, parse_kb_csv
from kefu.ai.kb_csv import demo_kb_csv
from kefu.ai.kb_xlsx import parse_kb_file
from kefu.errors import Invalid

GOOD = (
    "id,question,answer,alt_questions,tags\n"
    'return,如何退货,"7天内可无理由退货，请在订单页申请。",怎么退货|能退吗；七天无理由;退货流程,退货|售后\n'
    "hours,营业时间,每天9:00-21:00,,\n"
    'ship,如何查询物流,"在""我的订单""中查看物流",快递到哪了,物流\n'
)


def test_good_file() -> None:
    result = parse_kb_csv(GOOD)
    assert result.errors == []
    assert result.entries == [
        KnowledgeEntry(
            id="return",
            question="如何退货",
            answer="7天内可无理由退货，请在订单页申请。",
            alt_questions=["怎么退货", "能退吗", "七天无理由", "退货流程"],
            tags=["退货", "售后"],
        ),
        KnowledgeEntry(id="hours", question="营业时间", answer="每天9:00-21:00"),
        KnowledgeEntry(
            id="ship", question="如何查询物流", answer='在"我的订单"中查看物流',
            alt_questions=["快递到哪了"], tags=["物流"],
        ),
    ]  # fmt: skip


def test_optional_columns_may_be_left_out() -> None:
    result = parse_kb_csv("id,question,answer\nq1,如何退货,请在订单页申请\n")
    assert result.errors == []
    assert result.entries == [KnowledgeEntry(id="q1", question="如何退货", answer="请在订单页申请")]


def test_chinese_headers_in_any_order() -> None:
    result = parse_kb_csv("问题,答案,编号,相似问题\n如何退货,请申请售后,r1,怎么退|退货流程\n")
    assert result.errors == []
    assert result.entries[0].id == "r1"
    assert result.entries[0].alt_questions == ["怎么退", "退货流程"]


def test_utf8_bom_and_crlf() -> None:
    data = codecs.BOM_UTF8 + GOOD.replace("\n", "\r\n").encode()
    result = parse_kb_csv(data)
    assert result.errors == []
    assert [e.id for e in result.entries] == ["return", "hours", "ship"]
    assert parse_kb_csv("\ufeff" + GOOD).entries == result.entries


def test_gb18030_from_excel() -> None:
    data = GOOD.replace("\n", "\r\n").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    result = parse_kb_csv(data)
    assert result.errors == []
    assert result.entries == parse_kb_csv(GOOD).entries


def unicode_text(table: str, codec: str = "utf-16-le") -> bytes:
    """`table` (CSV) as Excel's “Unicode text” saves it: UTF-16 after its byte-order mark, the
    cells separated by tabs, quoted as in CSV where they hold a quote, a tab or a line break."""
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\r\n").writerows(csv.reader(io.StringIO(table)))
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    return bom + out.getvalue().encode(codec)


def test_utf16_unicode_text_from_excel() -> None:
    """Excel's other “save as text”: it was refused as “neither UTF-8 nor GB18030”, which says
    nothing of what the file is."""
    expected = parse_kb_csv(GOOD).entries
    assert parse_kb_file(unicode_text(GOOD)).entries == expected
    assert parse_kb_file(unicode_text(GOOD, "utf-16-be")).entries == expected
    commas = codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le")  # UTF-16 with commas reads too
    assert parse_kb_file(commas).entries == expected
    # Tabs are read by the header line, whatever the encoding: Excel's “Text (tab delimited)”.
    assert parse_kb_csv(unicode_text(GOOD)[2:].decode("utf-16-le").encode()).entries == expected


def test_a_broken_utf16_file_is_refused_saying_what_it_is() -> None:
    cut = unicode_text(GOOD)[:-1]  # an odd number of bytes: the last character cut in half
    with pytest.raises(KbCsvError) as caught:
        parse_kb_csv(cut)
    assert caught.value.problem == "encoding_utf16"
    assert caught.value.values == {"offset": len(cut) - 1}
    assert caught.value.message == (
        "the file starts as UTF-16 (its byte-order mark) but is not whole UTF-16 (cut short?); "
        "save it from Excel as “CSV UTF-8”"
    )


def test_bad_rows_are_reported_by_line_and_good_rows_kept() -> None:
    lines = [
        "id,question,answer,alt_questions,tags",  # 1
        "ok1,如何退货,请申请售后,,",  # 2
        "noq,,没有问题的答案,,",  # 3
        "noa,没有答案的问题,,,",  # 4
        "ok1,重复的编号,答案,,",  # 5
        f"longq,{'问' * 501},答案,,",  # 6
        f"longa,问题,{'答' * 4001},,",  # 7
        "short,只有三列,答案",  # 8
        "many,问题,答案,相似,标签,多出来的",  # 9
        "",  # 10: blank lines are skipped
        'multi,多行答案,"第一行',  # 11
        '第二行",,',  # 12
        ",没有编号,答案,,",  # 13
        f"okmax,{'问' * 500},{'答' * 4000},,",  # 14: exactly at the limits
        "pad,Excel 补的空列,答案,,,,",  # 15: trailing empty cells are harmless
    ]
    result = parse_kb_csv("\n".join(lines) + "\n")
    assert [e.id for e in result.entries] == ["ok1", "multi", "okmax", "pad"]
    assert result.entries[1].answer == "第一行\n第二行"
    reasons = {error.line: error.reason for error in result.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 13]
    assert reasons[3] == "question is empty"
    assert reasons[4] == "answer is empty"
    assert reasons[5] == "duplicate id 'ok1' (first on line 2)"
    assert reasons[6] == "question is 501 characters; at most 500"
    assert reasons[7] == "answer is 4001 characters; at most 4000"
    assert reasons[8] == "3 columns where the header has 5"
    assert reasons[9] == "6 columns where the header has 5"
    assert reasons[13] == "id is empty"


def test_duplicates_in_lists_and_the_question_itself_are_dropped() -> None:
    result = parse_kb_csv("id,question,answer,alt_questions\nr,如何退货,答案,如何退货| 怎么退 |怎么退||\n")
    assert result.entries[0].alt_questions == ["怎么退"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "empty"),
        ("\n\n", "empty"),
        ("question,answer\n如何退货,答案\n", "missing column"),
        ("id,question,answer,remark\n", "unknown column"),
        ("id,question,answer,answer\n", "repeated column"),
        (b"id,question,answer\n\xff\xfe\xff,x,y\n", "neither UTF-8 .* nor GB18030"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(data: str | bytes, message: str) -> None:
    with pytest.raises(KbCsvError, match=message) as caught:
        parse_kb_csv(data)
    assert isinstance(caught.value, Invalid)


def test_a_utf8_file_with_a_stray_byte_is_refused_by_the_line_that_holds_it() -> None:
    """GB18030 fails on UTF-8's Chinese bytes near the start whatever the damage, so its offset
    pointed far from the byte an admin has to fix; the advice is to save as UTF-8, so the line
    where UTF-8 breaks is the one named."""
    damaged = "id,question,answer\nk1,如何退货,七天无理由\nk2,保修多久,三年\n".encode().replace(
        "三年".encode(), b"\xe4\xb8"
    )
    with pytest.raises(KbCsvError) as caught:
        parse_kb_csv(damaged)
    assert caught.value.problem == "encoding" and caught.value.values["line"] == 3
    assert "neither UTF-8 (line 3 holds a byte that is not) nor GB18030" in caught.value.message


def test_the_demo_knowledge_base_is_complete() -> None:
    result = parse_kb_csv(demo_kb_csv())
    assert result.errors == []
    assert len(result.entries) >= 25
    assert all(len(e.alt_questions) >= 2 for e in result.entries)
    topics = " ".join(e.question for e in result.entries)
    for topic in ["退货", "换货", "保修", "安装", "发票", "物流", "配件", "维修进度", "营业时间", "联系方式"]:
        assert topic in topics, topic


def test_a_stray_cell_past_the_header_refuses_its_row_not_the_file() -> None:
    """Excel pads the header row to the widest row: the empty header cells it adds are not
    columns, and the row with the stray cell is the one reported (openpyxl writes the file)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id", "question", "answer"])
    sheet.append(["ok", "如何退货", "请申请售后"])
    sheet.append(["stray", "营业时间", "每天 9 点到 21 点", None, "备注：旧的"])
    out = io.BytesIO()
    workbook.save(out)
    result = parse_kb_file(out.getvalue())
    assert [e.id for e in result.entries] == ["ok"]
    reasons = [(error.line, error.reason) for error in result.errors]
    assert reasons == [(3, "5 columns where the header has 3")]
