"""Pinyin n-grams from pypinyin's character table alone (kefu.ai.chars skips its phrase table)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kefu.ai.chars import pinyin_ngrams

_READINGS = """
import json, sys
from pypinyin import lazy_pinyin
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT
readings = [lazy_pinyin(chr(c))[0] for c in sorted(PINYIN_DICT)]
print(json.dumps({"phrases": len(PHRASES_DICT), "readings": readings}))
"""


def _readings(env: dict[str, str]) -> dict[str, object]:
    command = [sys.executable, "-c", _READINGS]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_homophone_typos_meet_in_pinyin() -> None:
    assert pinyin_ngrams("发漂") == pinyin_ngrams("发票") == ["py:fa", "py:piao", "py:fapiao"]
    assert pinyin_ngrams("续废")[-1] == pinyin_ngrams("续费")[-1] == "py:xufei"


def test_every_character_reads_the_same_without_the_phrase_table() -> None:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PYPINYIN_")}
    lean_env = full_env | {"PYPINYIN_NO_PHRASES": "1", "PYPINYIN_NO_DICT_COPY": "1"}
    full, lean = _readings(full_env), _readings(lean_env)
    assert full["phrases"] and not lean["phrases"]  # the two runs really differ in what they load
    assert lean["readings"] == full["readings"]
