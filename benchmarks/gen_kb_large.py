"""A large knowledge base for latency figures: N distinct templated entries, and labelled queries.

    .venv/bin/python benchmarks/gen_kb_large.py OUT_DIR [--entries 1000] [--queries 300] [--seed 7]
    .venv/bin/kefu kb eval --kb OUT_DIR/kb_large.csv --queries OUT_DIR/queries_large.csv

Entries are (subject × topic): 50 subjects of a made-up retail and services business times
20 topics, each with its own question, 0-2 alternative questions and an answer with concrete
numbers, so no two entries are alike. Queries reword a random entry's question the way
customers write (filler, dropped words), plus ~20 % out-of-scope chit-chat. Only latency is
meant to be read from it: the wording is templated, so accuracy here says little.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from pathlib import Path

SUBJECTS = (
    "会员卡 积分 优惠券 礼品卡 余额 订单 发票 退款 退货 换货 快递 配送 自提 预售 团购 秒杀 "
    "拼单 充值 提现 储值卡 保修 安装 维修 以旧换新 分期 花呗 信用卡 对公转账 企业采购 门店 "
    "客服热线 账号 密码 手机号 实名认证 收货地址 发货 缺货 赠品 包装 价格保护 评价 直播 小程序 "
    "公众号 电子合同 押金 租赁 年费 试用"
).split()
TOPICS = [
    ("怎么办理{s}", "在App“我的”→“{s}”页面办理，{n}分钟内生效。", ["{s}在哪里办"]),
    ("{s}收费吗", "{s}服务收费{n}元，会员减免{m}元。", ["{s}要钱吗"]),
    ("{s}多久能到账", "{s}一般{n}个工作日内处理完成，节假日顺延。", ["{s}几天到"]),
    ("{s}有什么条件", "{s}需满足：账户实名、近{n}天无违规、订单满{m}元。", []),
    ("{s}可以取消吗", "{s}提交后{n}小时内可在订单页取消，超时不能取消。", ["{s}能撤回吗"]),
    ("{s}失败怎么办", "{s}失败多为信息不全，请补全后重试；连续失败{n}次请联系客服。", []),
    ("{s}有效期多久", "{s}有效期为{n}个月，到期前{m}天会短信提醒。", ["{s}会过期吗"]),
    ("{s}能开发票吗", "{s}可开电子发票，在订单完成后{n}天内申请。", []),
    ("{s}的规则是什么", "{s}规则：每人每月最多{n}次，单次上限{m}元。", ["{s}怎么算"]),
    ("{s}在哪里查看", "在“我的”→“{s}记录”查看最近{n}个月的明细。", ["{s}记录怎么查"]),
    ("{s}能转给别人吗", "{s}不支持转让，仅限本人账号使用，家庭账号最多{n}人共享。", []),
    ("{s}为什么被冻结", "{s}因异常操作被冻结{n}天，可提交身份证明申请解冻。", ["{s}冻结了"]),
    ("{s}支持哪些城市", "{s}目前支持{n}个城市，完整名单见App首页公告。", []),
    ("{s}怎么修改", "{s}可在提交后{n}小时内修改一次，之后请联系客服。", ["{s}填错了"]),
    ("{s}有上限吗", "{s}单日上限{n}次，单笔不超过{m}元。", []),
    ("{s}和会员有关系吗", "会员使用{s}享{n}折优惠，非会员按原价。", []),
    ("{s}出问题投诉找谁", "{s}问题拨打客服热线，{n}小时内回电。", ["{s}投诉"]),
    ("{s}需要什么材料", "{s}需上传身份证正反面和{n}张相关照片。", []),
    ("{s}几点可以办", "{s}每天{n}:00到{m}:00可办理。", []),
    ("{s}会不会扣积分", "{s}每次扣除{n}积分，积分不足时扣余额{m}元。", []),
]
FILLER = ["请问", "你好，", "想问下", "", "", "那个"]
ENDINGS = ["", "？", "呀", "啊", "呢", "。。"]
OUT_OF_SCOPE = [
    "今天天气怎么样",
    "你们老板是谁",
    "讲个笑话吧",
    "你是真人吗",
    "我心情不好",
    "附近有好吃的吗",
    "帮我写首诗",
    "股票会涨吗",
    "你叫什么名字",
    "周末去哪玩",
    "推荐一部电影",
    "明天会下雨吗",
]


def generate(n_entries: int, n_queries: int, seed: int) -> tuple[str, str]:
    rng = random.Random(seed)
    pairs = [(s, t) for t in range(len(TOPICS)) for s in SUBJECTS][:n_entries]
    kb, queries = io.StringIO(), io.StringIO()
    kb_w, q_w = csv.writer(kb, lineterminator="\n"), csv.writer(queries, lineterminator="\n")
    kb_w.writerow(["id", "question", "answer", "alt_questions", "tags"])
    q_w.writerow(["query", "expected_id"])
    rows = []
    for i, (subject, topic) in enumerate(pairs):
        question, answer, alts = TOPICS[topic]
        n, m = rng.randint(1, 30), rng.randint(31, 500)
        entry_id = f"e{i:04d}"
        fill = {"s": subject, "n": n, "m": m}
        kb_w.writerow(
            [
                entry_id,
                question.format(**fill),
                answer.format(**fill),
                "|".join(a.format(**fill) for a in alts),
                subject,
            ]
        )
        rows.append((entry_id, question.format(**fill)))
    for _ in range(n_queries):
        if rng.random() < 0.2:
            q_w.writerow([rng.choice(FILLER) + rng.choice(OUT_OF_SCOPE) + rng.choice(ENDINGS), ""])
            continue
        entry_id, question = rng.choice(rows)
        q_w.writerow([rng.choice(FILLER) + question.replace("怎么", "咋") + rng.choice(ENDINGS), entry_id])
    return kb.getvalue(), queries.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    kb, queries = generate(args.entries, args.queries, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kb_large.csv").write_text(kb, encoding="utf-8")
    (args.out / "queries_large.csv").write_text(queries, encoding="utf-8")
    print(f"wrote {args.out}/kb_large.csv ({args.entries} entries) and queries_large.csv ({args.queries})")


if __name__ == "__main__":
    main()
