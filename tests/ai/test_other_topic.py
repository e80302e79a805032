"""A message that names one of the knowledge base's topics (its tags) is not answered with an
entry about another: 冰箱不制冷 must not get the air conditioner's answer because 不制冷怎么办
matches (docs/ai-retrieval.md, "An entry about another topic")."""

from __future__ import annotations

import pytest

from kefu.ai import KnowledgeBaseProvider, KnowledgeEntry, KnowledgeIndex

# (message, the entry about another appliance it matched first before the rule)
OTHER_APPLIANCE = [
    ("冰箱不制冷怎么办", "ac-not-cooling"),
    ("我的冰箱不制冷", "ac-not-cooling"),
    ("洗衣机噪音很大怎么办", "fridge-noise"),
    ("空调噪音很大怎么办", "fridge-noise"),
    ("冰箱不排水怎么办", "washer-drain"),
    ("冰箱显示故障代码怎么办", "ac-error-code"),
    ("洗衣机移机怎么收费", "uninstall-move"),
    ("冰箱清洗多少钱", "cleaning-service"),  # its questions and prices are the air conditioner's
]


@pytest.mark.parametrize(("message", "other"), OTHER_APPLIANCE)
def test_an_entry_about_another_appliance_does_not_answer(
    demo_index: KnowledgeIndex, message: str, other: str
) -> None:
    assert demo_index.search(message, limit=1)[0].entry.id == other  # still ranked first
    answer = KnowledgeBaseProvider(demo_index).answer_now(message)
    assert answer.not_sure and answer.entry is None, (message, answer.entry and answer.entry.id)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("空调不制冷怎么办", "ac-not-cooling"),
        ("空调不凉了", "ac-not-cooling"),
        ("冰箱响声很大", "fridge-noise"),
        ("冰箱不制冷了", "repair-request"),  # the admin's own question: exact
        ("旧冰箱怎么回收", "trade-in"),  # no tag of the entry named, but it mentions 冰箱
    ],
)
def test_an_entry_about_the_named_appliance_still_answers(
    demo_index: KnowledgeIndex, message: str, expected: str
) -> None:
    answer = KnowledgeBaseProvider(demo_index).answer_now(message)
    assert answer.entry is not None and answer.entry.id == expected, (message, answer.confidence)


def test_the_rule_reads_tags_as_topics_and_needs_them() -> None:
    def build(tagged: bool) -> KnowledgeIndex:
        def tags(*names: str) -> list[str]:
            return list(names) if tagged else []

        return KnowledgeIndex.build(
            [
                KnowledgeEntry(id="ac", question="空调不制冷怎么办", answer="清洗滤网。", tags=tags("空调")),
                KnowledgeEntry(id="fridge", question="冰箱噪音大", answer="放平。", tags=tags("冰箱")),
                KnowledgeEntry(id="refund", question="怎么退款", answer="原路退回。"),
            ]
        )

    # Untagged, the knowledge base names no topics: the score alone decides, as before.
    assert build(tagged=False).search("冰箱不制冷怎么办")[0].confidence > 0.5
    # Tagged, the best entry is about another topic: not sure of it, nor of those below it.
    matches = build(tagged=True).search("冰箱不制冷怎么办")
    assert matches[0].entry.id == "ac" and len(matches) > 1
    assert {m.confidence for m in matches} == {0.0}
    # A message naming the entry's own tag too is about it (both appliances named): untouched.
    both = "空调和冰箱都不制冷"
    tagged, untagged = build(tagged=True).search(both)[0], build(tagged=False).search(both)[0]
    assert (tagged.entry.id, tagged.confidence) == ("ac", untagged.confidence) and tagged.confidence > 0
