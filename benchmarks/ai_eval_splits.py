"""`kefu kb eval` by split of the labelled sets, as the methods table reports them.

    .venv/bin/python benchmarks/ai_eval_splits.py [--retrieval lexical|hybrid|auto] [--split tune]...

Splits: SaaS tune (query rows 1-196, the only rows tuned on), SaaS held-out (rows 197-280),
grocery (all rows; report only, never tuned on).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kefu.ai.evaluation import LabelledQuery, compare, parse_queries
from kefu.ai.kb_csv import parse_kb_csv
from kefu.ai.settings import AISettings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TUNE_ROWS = 196
SPLITS = ("tune", "held-out", "grocery")


def split(name: str) -> tuple[str, list[LabelledQuery]]:
    business = "grocery" if name == "grocery" else "saas"
    queries = parse_queries((DATA / f"queries_{business}.csv").read_bytes())
    if name == "tune":
        queries = queries[:TUNE_ROWS]
    elif name == "held-out":
        queries = queries[TUNE_ROWS:]
    return business, queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--retrieval", default="auto", choices=["auto", "lexical", "hybrid"])
    parser.add_argument("--split", action="append", choices=SPLITS)
    args = parser.parse_args()
    for name in args.split or SPLITS:
        business, queries = split(name)
        entries = parse_kb_csv((DATA / f"kb_{business}.csv").read_bytes()).entries
        print(name, json.dumps(compare(entries, queries, AISettings(retrieval=args.retrieval))))


if __name__ == "__main__":
    main()
