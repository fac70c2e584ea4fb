"""Read a llama-architecture model from a GGUF file: hyperparameters, dequantized weights and
the tokenizer's vocabulary, every field checked with a message that names the file and what is
wrong.

The file is read with the pure-Python ``gguf`` package; every quantization type that
``gguf.quants.dequantize`` knows is accepted. Weights are kept in fp32 and laid out for
``x @ W`` (input dimension first), with Q, K and V fused into one matrix and gate and up into
another, so a layer is four matrix products.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

__all__ = ["ModelError", "LlamaShape", "LayerWeights", "LlamaWeights", "Vocabulary",
           "load_gguf"]


class ModelError(ValueError):
    """A model file cannot be used; the message names the file and the offending field."""


@dataclasses.dataclass(frozen=True)
class LlamaShape:
    """Hyperparameters of a llama model (GGUF ``llama.*`` keys)."""

    layers: int
    embed: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    rope_base: float
    rms_eps: float
    context: int

    @property
    def group(self) -> int:
        """Query heads per KV head (GQA)."""
        return self.heads // self.kv_heads


@dataclasses.dataclass
class LayerWeights:
    attn_norm: np.ndarray      # [E]
    wqkv: np.ndarray           # [E, (H + 2 KV) D]: Q, K and V fused
    wo: np.ndarray             # [H D, E]
    ffn_norm: np.ndarray       # [E]
    w_gate_up: np.ndarray      # [E, 2 F]: gate and up fused
    w_down: np.ndarray         # [F, E]


@dataclasses.dataclass
class Vocabulary:
    """The tokenizer's data as the GGUF holds it (``tokenizer.ggml.*``)."""

    model: str                 # "gpt2": byte-level BPE
    pre: str                   # pre-tokenizer name
    tokens: list[str]
    merges: list[str]


@dataclasses.dataclass
class LlamaWeights:
    shape: LlamaShape
    embed: np.ndarray          # [V, E]
    layers: list[LayerWeights]
    norm: np.ndarray           # [E]
    output: np.ndarray         # [E, V]: the output projection, tied to embed when absent
    vocabulary: Vocabulary
    name: str                  # general.name, or the file name


def _field(reader, key: str, where: str, kind=None):
    field = reader.fields.get(key)
    if field is None:
        raise ModelError(f"{where}: missing key {key!r}")
    try:
        value = field.contents()
    except Exception as error:                   # a field gguf cannot decode
        raise ModelError(f"{where}: key {key!r} cannot be read ({error})") from None
    if kind is not None and not isinstance(value, kind):
        raise ModelError(f"{where}: key {key!r} must be {kind.__name__}, not {value!r}")
    return value


def _shape(reader, where: str) -> LlamaShape:
    def count(key):
        value = _field(reader, f"llama.{key}", where, int)
        if value < 1:
            raise ModelError(f"{where}: key 'llama.{key}' must be positive, not {value}")
        return value

    embed, heads = count("embedding_length"), count("attention.head_count")
    kv_heads = reader.fields.get("llama.attention.head_count_kv")
    kv_heads = heads if kv_heads is None else count("attention.head_count_kv")
    if embed % heads or heads % kv_heads:
        raise ModelError(f"{where}: head counts must divide: embedding {embed}, heads {heads}, "
                         f"KV heads {kv_heads}")
    head_dim = embed // heads
    if head_dim % 2:
        raise ModelError(f"{where}: head dimension must be even for RoPE, not {head_dim}")
    tokens = _field(reader, "tokenizer.ggml.tokens", where, list)
    base = reader.fields.get("llama.rope.freq_base")
    rope_base = 10000.0 if base is None else float(_field(reader, "llama.rope.freq_base", where))
    return LlamaShape(
        layers=count("block_count"), embed=embed, heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, ffn=count("feed_forward_length"), vocab=len(tokens),
        rope_base=rope_base,
        rms_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon", where)),
        context=count("context_length"))


def _tensors(reader, where: str) -> dict[str, np.ndarray]:
    import gguf
    out = {}
    for t in reader.tensors:
        if t.data.nbytes != t.n_bytes:
            raise ModelError(f"{where}: tensor {t.name!r} is cut short ({t.data.nbytes} of "
                             f"{t.n_bytes} bytes): the file is truncated")
        try:
            array = gguf.quants.dequantize(t.data, t.tensor_type)
        except NotImplementedError:
            raise ModelError(f"{where}: tensor {t.name!r} has quantization type "
                             f"{t.tensor_type.name}, which gguf cannot dequantize") from None
        out[t.name] = np.asarray(array, dtype=np.float32).reshape(
            tuple(reversed([int(d) for d in t.shape])))
    return out


def _take(tensors, name: str, shape: tuple, where: str) -> np.ndarray:
    if name not in tensors:
        raise ModelError(f"{where}: missing tensor {name!r}")
    a = tensors[name]
    if a.shape != shape:
        raise ModelError(f"{where}: tensor {name!r} must have shape {shape}, not {a.shape}")
    return a


def load_gguf(path) -> LlamaWeights:
    """Read a llama model from ``path``; a file that is not one is refused with
    :class:`ModelError` naming the file and the key, tensor or type at fault."""
    import gguf
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ModelError(f"{where}: no such model file")
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, KeyError, IndexError, OSError) as error:
        raise ModelError(f"{where}: not a readable GGUF file ({error}); is it truncated?") \
            from None
    arch = _field(reader, "general.architecture", where, str)
    if arch != "llama":
        raise ModelError(f"{where}: architecture must be 'llama', not {arch!r}")
    s = _shape(reader, where)
    tokenizer = _field(reader, "tokenizer.ggml.model", where, str)
    if tokenizer != "gpt2":
        raise ModelError(f"{where}: tokenizer model must be 'gpt2' (byte-level BPE), "
                         f"not {tokenizer!r}")
    pre = reader.fields.get("tokenizer.ggml.pre")
    vocabulary = Vocabulary(
        model=tokenizer, pre="default" if pre is None else _field(reader, "tokenizer.ggml.pre",
                                                                   where, str),
        tokens=_field(reader, "tokenizer.ggml.tokens", where, list),
        merges=_field(reader, "tokenizer.ggml.merges", where, list))
    t = _tensors(reader, where)
    e, d, kv = s.embed, s.head_dim, s.kv_heads * s.head_dim
    embed = _take(t, "token_embd.weight", (s.vocab, e), where)
    layers = []
    for i in range(s.layers):
        def w(name, shape):
            return _take(t, f"blk.{i}.{name}.weight", shape, where)
        layers.append(LayerWeights(
            attn_norm=w("attn_norm", (e,)),
            wqkv=np.ascontiguousarray(np.concatenate(
                [w("attn_q", (s.heads * d, e)), w("attn_k", (kv, e)), w("attn_v", (kv, e))]).T),
            wo=np.ascontiguousarray(w("attn_output", (e, s.heads * d)).T),
            ffn_norm=w("ffn_norm", (e,)),
            w_gate_up=np.ascontiguousarray(np.concatenate(
                [w("ffn_gate", (s.ffn, e)), w("ffn_up", (s.ffn, e))]).T),
            w_down=np.ascontiguousarray(w("ffn_down", (e, s.ffn)).T)))
    output = t.get("output.weight", embed)
    if output.shape != (s.vocab, e):
        raise ModelError(f"{where}: tensor 'output.weight' must have shape {(s.vocab, e)}, "
                         f"not {output.shape}")
    name = reader.fields.get("general.name")
    return LlamaWeights(shape=s, embed=embed, layers=layers,
                        norm=_take(t, "output_norm.weight", (e,), where),
                        output=np.ascontiguousarray(output.T), vocabulary=vocabulary,
                        name=path.name if name is None else str(name.contents()))
