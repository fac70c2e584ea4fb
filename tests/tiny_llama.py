"""A tiny random llama model written as GGUF with ``gguf``'s own writer, so the model tests
need no download; and a naive forward pass read straight from the file, a second reading of
the llama architecture to hold ``vrex.model.llama`` to."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

# A byte-level vocabulary: the 256 byte characters, then a few merges of common English.
_MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "r e", "a t"]


def byte_tokens() -> list[str]:
    from vrex.model.tokenizer import _byte_table
    return list(_byte_table().values())


def write_tiny_llama(path: Path, *, seed: int = 0, layers: int = 2, embed: int = 32,
                     heads: int = 4, kv_heads: int = 2, ffn: int = 48,
                     arch: str = "llama", quant=gguf.GGMLQuantizationType.Q8_0,
                     pre: str = "smollm", tied: bool = True, skip: tuple = ()) -> Path:
    """Write a tiny llama to ``path``. ``quant`` is the type of the projection matrices
    (their input width must be a multiple of its block); ``skip`` leaves out metadata keys
    or tensors by name."""
    rng = np.random.default_rng(seed)
    tokens = byte_tokens()
    tokens += [m.replace(" ", "") for m in _MERGES]
    writer = gguf.GGUFWriter(str(path), arch)
    d = embed // heads

    def kv(name, add, value):
        if name not in skip:
            add(value)

    kv("block_count", writer.add_block_count, layers)
    kv("context_length", writer.add_context_length, 512)
    kv("embedding_length", writer.add_embedding_length, embed)
    kv("feed_forward_length", writer.add_feed_forward_length, ffn)
    kv("head_count", writer.add_head_count, heads)
    kv("head_count_kv", writer.add_head_count_kv, kv_heads)
    kv("rope_freq_base", writer.add_rope_freq_base, 10000.0)
    kv("rms_eps", writer.add_layer_norm_rms_eps, 1e-5)
    kv("tokenizer_model", writer.add_tokenizer_model, "gpt2")
    kv("tokenizer_pre", writer.add_tokenizer_pre, pre)
    kv("tokens", writer.add_token_list, tokens)
    kv("merges", writer.add_token_merges, _MERGES)

    def tensor(name, shape, scale, qtype=gguf.GGMLQuantizationType.F32):
        if name in skip:
            return
        data = (rng.standard_normal(shape) * scale).astype(np.float32)
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(name, data)
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    vocab = len(tokens)
    tensor("token_embd.weight", (vocab, embed), 1.0, gguf.GGMLQuantizationType.F16)
    for i in range(layers):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", 1 + 0.1 * rng.standard_normal(embed)
                          .astype(np.float32))
        tensor(p + "attn_q.weight", (heads * d, embed), embed ** -0.5, quant)
        tensor(p + "attn_k.weight", (kv_heads * d, embed), embed ** -0.5, quant)
        tensor(p + "attn_v.weight", (kv_heads * d, embed), embed ** -0.5, quant)
        tensor(p + "attn_output.weight", (embed, heads * d), (heads * d) ** -0.5, quant)
        writer.add_tensor(p + "ffn_norm.weight", np.ones(embed, np.float32))
        tensor(p + "ffn_gate.weight", (ffn, embed), embed ** -0.5, quant)
        tensor(p + "ffn_up.weight", (ffn, embed), embed ** -0.5, quant)
        tensor(p + "ffn_down.weight", (embed, ffn), ffn ** -0.5)
    writer.add_tensor("output_norm.weight", 1 + 0.1 * rng.standard_normal(embed)
                      .astype(np.float32))
    if not tied:
        tensor("output.weight", (vocab, embed), 0.5)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def naive_forward(path: Path, ids) -> np.ndarray:
    """Logits of ``ids`` by the textbook llama, token by token and head by head, with the
    weights read from the file by name (no fused layout, no cache)."""
    reader = gguf.GGUFReader(str(path))
    f = {k: v.contents() for k, v in reader.fields.items() if not k.startswith("tokenizer")}
    w = {t.name: np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), np.float64)
         .reshape(tuple(reversed([int(x) for x in t.shape]))) for t in reader.tensors}
    heads, kv_heads = f["llama.attention.head_count"], f["llama.attention.head_count_kv"]
    eps, base = f["llama.attention.layer_norm_rms_epsilon"], f["llama.rope.freq_base"]
    embed = w["token_embd.weight"]
    d = embed.shape[1] // heads

    def norm(x, g):
        return x / np.sqrt(np.mean(x * x) + eps) * g

    def rope(v, pos):
        out = v.copy()
        for i in range(d // 2):
            a = pos * base ** (-2 * i / d)
            out[2 * i] = v[2 * i] * np.cos(a) - v[2 * i + 1] * np.sin(a)
            out[2 * i + 1] = v[2 * i] * np.sin(a) + v[2 * i + 1] * np.cos(a)
        return out

    xs = [embed[t].copy() for t in ids]
    for layer in range(f["llama.block_count"]):
        p = f"blk.{layer}."
        ks, vs, outs = [], [], []
        for pos, x in enumerate(xs):
            h = norm(x, w[p + "attn_norm.weight"])
            q = (w[p + "attn_q.weight"] @ h).reshape(heads, d)
            k = (w[p + "attn_k.weight"] @ h).reshape(kv_heads, d)
            ks.append([rope(k[j], pos) for j in range(kv_heads)])
            vs.append((w[p + "attn_v.weight"] @ h).reshape(kv_heads, d))
            o = []
            for j in range(heads):
                g = j // (heads // kv_heads)
                qj = rope(q[j], pos)
                s = np.array([qj @ ks[t][g] for t in range(pos + 1)]) / np.sqrt(d)
                a = np.exp(s - s.max())
                o.append((a / a.sum()) @ np.array([vs[t][g] for t in range(pos + 1)]))
            outs.append(x + w[p + "attn_output.weight"] @ np.concatenate(o))
        xs = []
        for x in outs:
            h = norm(x, w[p + "ffn_norm.weight"])
            gate, up = w[p + "ffn_gate.weight"] @ h, w[p + "ffn_up.weight"] @ h
            xs.append(x + w[p + "ffn_down.weight"] @ (gate / (1 + np.exp(-gate)) * up))
    out = w.get("output.weight", embed)
    return np.array([out @ norm(x, w["output_norm.weight"]) for x in xs])
