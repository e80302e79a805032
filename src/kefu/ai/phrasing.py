"""System-message wordings without an LLM: several admin-editable variants per intent.

Each intent declares the placeholders its templates may use; a template is
checked against them when it is set (`PhraseBook(overrides)`), and the facts a
caller passes are checked against the intent's templates before one is
chosen, so a mistake shows up at once, whichever variant the dice would pick.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from kefu.errors import Invalid

# intent → the placeholders its templates may use (the shell always supplies them).
INTENTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "off_hours": frozenset({"hours"}),  # hours: the reception periods, e.g. 周一至周五 09:00-18:00
        "welcome": frozenset(),
        "ending": frozenset(),
        "survey": frozenset(),
        "pool_notice": frozenset({"position"}),  # position: how many customers wait before this one
        "pool_notice_next": frozenset(),  # the pool notice to the first in line (nobody ahead)
        "taken_notice": frozenset({"servicer"}),  # servicer: the name of who took the customer
        "paused": frozenset(),
        "non_text": frozenset(),
        "queue_timeout": frozenset(),
        "over_length": frozenset(),
        "transfer_refused": frozenset(),
        "not_sure": frozenset(),
    }
)

DEFAULT_PHRASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "off_hours": (
            "您好，现在是人工客服的休息时间（服务时间：{hours}），您可以先留言，上班后我们会第一时间回复您。",
            "抱歉，人工客服暂时不在线，服务时间为{hours}。您的问题我们已经记下，客服上线后会尽快联系您。",
            "您好，人工客服的工作时间是{hours}，现在暂时无法为您转接，有问题可以先留言，我们上班后马上处理。",
        ),
        "welcome": (
            "您好，欢迎咨询！请问有什么可以帮您？",
            "您好，很高兴为您服务，请直接描述您遇到的问题。",
            "欢迎光临！您可以直接输入问题，我会尽快为您解答。",
        ),
        "ending": (
            "感谢您的咨询，本次服务已结束，祝您生活愉快！",
            "本次会话已结束，如果还有其他问题，欢迎随时再来咨询。",
            "谢谢您的耐心，本次服务到此结束，期待再次为您服务！",
        ),
        "survey": (
            "请您对本次服务做个评价，您的反馈对我们很重要：",
            "麻烦您花几秒钟为本次服务打个分，谢谢！",
            "您对本次服务满意吗？欢迎点击下方选项评价：",
        ),
        "pool_notice": (
            "正在为您排队，您前面还有 {position} 位，请稍候。",
            "当前咨询的顾客较多，您前面还有 {position} 位，客服会尽快接待您。",
            "请稍等，正在为您安排人工客服，前面还有 {position} 位在排队。",
        ),
        "pool_notice_next": (
            "正在为您排队，您是下一位，请稍候。",
            "已为您排上队，您是下一位，客服空出来就马上接待您。",
            "请稍等，马上就轮到您了，客服会尽快为您服务。",
        ),
        "taken_notice": (
            "人工客服已接入，请问有什么可以帮您？",
            "已为您接通人工客服，请直接描述您的问题。",
            "您好，人工客服已为您接入，请稍等，马上为您处理。",
        ),
        "paused": (
            "抱歉，本客服账号暂停服务，请稍后再来咨询。",
            "您好，在线客服暂时暂停服务，给您带来不便，敬请谅解。",
            "服务暂停中，请您稍后再试，感谢您的理解。",
        ),
        "non_text": (
            "暂时只能识别文字，请用文字描述您的问题。",
            "抱歉，我暂时看不懂图片、语音等内容，麻烦您用文字说明一下。",
            "目前仅支持文字咨询，请您用文字描述遇到的问题，谢谢。",
        ),
        "queue_timeout": (
            "抱歉，当前排队的顾客较多，暂时无法为您接通人工客服，请稍后再试或先留言。",
            "非常抱歉让您久等了，人工客服暂时都在忙，您可以稍后再来咨询。",
            "排队等待超时了，实在抱歉。您可以先留言，客服空闲后会尽快联系您。",
        ),
        "over_length": (  # the queue is full (queue.max_length): the customer stays with the AI
            "当前咨询人数较多，人工客服暂时排不上，请稍后再试，或先留言。",
            "抱歉，现在排队的顾客已满，请您稍后再来转人工，也可以先把问题留言给我们。",
            "人工客服正忙，排队人数已达上限，请稍后再试。您也可以继续向我提问。",
        ),
        "transfer_refused": (  # WeCom refused the request for a human twice: they stay with the AI
            "抱歉，暂时无法为您转接人工客服，请稍后再试。",
            "不好意思，人工客服现在暂时接不通，请您稍后再试，有问题也可以继续问我。",
            "抱歉，暂时没能为您接通人工客服，请过一会儿再试一次。",
        ),
        "not_sure": (
            "这个问题我暂时无法回答，您可以换个说法再问问。",
            "抱歉，我没有理解您的问题，可以换一种说法再问一次吗？",
            "这个问题我还在学习中，麻烦您描述得再具体一些。",
        ),
    }
)

# An intent that words one case of another: until the admin words it too, their own wordings of
# the other serve it, with these facts (their pool notice, 0 ahead, rather than a built-in one).
REFINES: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType(
    {"pool_notice_next": ("pool_notice", MappingProxyType({"position": "0"}))}
)

MAX_TEMPLATE_CHARS = 600
MAX_VARIANTS = 20


class PhraseError(Invalid):
    """A wording that cannot be used: unknown intent, bad template, or facts that do not fill it."""


def placeholders(template: str) -> set[str]:
    """The `{name}` placeholders of a template ("{{" and "}}" are literal braces)."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PhraseError(
            f"template {template!r} has unbalanced braces ({exc}); write {{{{ for a brace"
        ) from None
    names: set[str] = set()
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise PhraseError(f"template {template!r}: write placeholders as {{name}}, not {{{name}}}")
        names.add(name)
    return names


def check_template(intent: str, template: str) -> None:
    """Raise PhraseError unless `template` is a usable wording for `intent`."""
    allowed = _allowed(intent)
    if not template.strip():
        raise PhraseError(f"a wording for {intent} is empty")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise PhraseError(f"a wording for {intent} is longer than {MAX_TEMPLATE_CHARS} characters")
    unknown = placeholders(template) - allowed
    if unknown:
        usable = ", ".join(f"{{{name}}}" for name in sorted(allowed)) or "none"
        names = ", ".join(f"{{{name}}}" for name in sorted(unknown))
        raise PhraseError(f"{intent} wording {template!r} uses {names}; placeholders it may use: {usable}")


def _allowed(intent: str) -> frozenset[str]:
    try:
        return INTENTS[intent]
    except KeyError:
        raise PhraseError(f"unknown intent {intent!r}; intents: {', '.join(INTENTS)}") from None


class PhraseBook:
    """The wordings per intent: the defaults, replaced intent by intent by the admin's own."""

    def __init__(self, overrides: Mapping[str, Sequence[str]] | None = None) -> None:
        self._overrides: dict[str, tuple[str, ...]] = {}
        for intent, templates in (overrides or {}).items():
            variants = tuple(t.strip() for t in templates)
            if not variants:
                raise PhraseError(
                    f"{intent} needs at least one wording (remove the override to use defaults)"
                )
            if len(variants) > MAX_VARIANTS:
                raise PhraseError(f"{intent} has more than {MAX_VARIANTS} wordings")
            for template in variants:
                check_template(intent, template)
            self._overrides[intent] = variants

    @property
    def overrides(self) -> dict[str, tuple[str, ...]]:
        """The admin's wordings only (what a config export writes back)."""
        return dict(self._overrides)

    def variants(self, intent: str) -> tuple[str, ...]:
        _allowed(intent)
        return self._overrides.get(intent, DEFAULT_PHRASES[intent])

    def resolve(self, intent: str, facts: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """The intent (and facts) whose wordings word `intent`: itself, unless it refines one
        the admin worded and it is not (REFINES)."""
        refined = REFINES.get(intent)
        if refined is None or intent in self._overrides or refined[0] not in self._overrides:
            return intent, dict(facts)
        general, extra = refined
        return general, {**facts, **extra}

    def check_facts(self, intent: str, facts: Mapping[str, str]) -> None:
        """Raise PhraseError if any wording of `intent` uses a placeholder `facts` lacks."""
        needed = set().union(*(placeholders(t) for t in self.variants(intent)))
        missing = sorted(needed - facts.keys())
        if missing:
            raise PhraseError(f"{intent} wordings need {', '.join(missing)} but the facts given lack it")

    def render(self, intent: str, variant: int, facts: Mapping[str, str]) -> str:
        """Variant number `variant` of `intent` with its placeholders filled from `facts`."""
        self.check_facts(intent, facts)
        return self.variants(intent)[variant].format_map({k: str(v) for k, v in facts.items()})
