"""Byte-level BPE (GPT-2 style) from a GGUF's own vocabulary and merges.

Text is split by the pre-tokenizer the GGUF names (``tokenizer.ggml.pre``), each piece's UTF-8
bytes are mapped to printable characters (GPT-2's byte-to-unicode table) and merged pair by
pair in the order of the merge list. Control tokens (``<|im_start|>`` and the like) are not
parsed out of the text: the evaluation feeds plain prose.
"""

from __future__ import annotations

import functools

import regex

from .gguf_file import ModelError, Vocabulary

__all__ = ["Tokenizer", "PRE_TOKENIZERS"]

# GPT-2's pre-tokenizer: contractions, letters, numbers, other symbols, whitespace runs.
_GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# Llama 3's (llama.cpp "llama-bpe"): case-insensitive contractions, numbers in threes.
_LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"""
           r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# llama.cpp's pre-tokenizer names -> (split digits one by one first?, pattern).
PRE_TOKENIZERS = {
    "default": (False, _GPT2),
    "gpt2": (False, _GPT2),
    "smollm": (True, _GPT2),        # SmolLM: every digit its own piece, then GPT-2's rule
    "starcoder": (True, _GPT2),
    "llama-bpe": (False, _LLAMA3),
}


def _byte_table() -> dict[int, str]:
    """GPT-2's map from bytes to printable characters (bytes that print map to themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class Tokenizer:
    """Encode text to token ids and back with a GGUF's byte-level BPE.

    Parameters
    ----------
    vocabulary : Vocabulary
        Tokens, merges and pre-tokenizer name from :func:`vrex.model.gguf_file.load_gguf`.
    where : str
        The file the vocabulary came from, for error messages.

    Raises
    ------
    ModelError
        The pre-tokenizer is unknown, or a merge is not ``"left right"``.
    """

    def __init__(self, vocabulary: Vocabulary, where: str = "model"):
        if vocabulary.pre not in PRE_TOKENIZERS:
            raise ModelError(f"{where}: pre-tokenizer must be one of "
                             f"{', '.join(PRE_TOKENIZERS)}, not {vocabulary.pre!r}")
        digits, pattern = PRE_TOKENIZERS[vocabulary.pre]
        self._digits = regex.compile(r"\p{N}|[^\p{N}]+") if digits else None
        self._pattern = regex.compile(pattern)
        self.tokens = list(vocabulary.tokens)
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        self._ranks = {}
        for rank, merge in enumerate(vocabulary.merges):
            left, sep, right = merge.partition(" ")
            if not sep or not left or not right:
                raise ModelError(f"{where}: merge {rank} must be 'left right', not {merge!r}")
            self._ranks.setdefault((left, right), rank)
        self._to_char = _byte_table()
        self._to_byte = {c: b for b, c in self._to_char.items()}
        self._piece = functools.lru_cache(maxsize=1 << 16)(self._bpe)

    def _pieces(self, text: str):
        chunks = self._digits.findall(text) if self._digits else [text]
        for chunk in chunks:
            yield from self._pattern.findall(chunk)

    def _bpe(self, piece: str) -> tuple[int, ...]:
        parts = [self._to_char[b] for b in piece.encode("utf-8")]
        while len(parts) > 1:
            ranks = [self._ranks.get(pair, -1) for pair in zip(parts, parts[1:])]
            best = min((r for r in ranks if r >= 0), default=None)
            if best is None:
                break
            i = ranks.index(best)
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        try:
            return tuple(self._ids[p] for p in parts)
        except KeyError as error:
            raise ModelError(f"the vocabulary has no token {error.args[0]!r} for the text "
                             f"piece {piece!r}") from None

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no BOS token is added)."""
        ids = []
        for piece in self._pieces(text):
            ids.extend(self._piece(piece))
        return ids

    def decode(self, ids) -> str:
        """The text of token ids; bytes that are not valid UTF-8 become U+FFFD."""
        data = bytes(self._to_byte[c] for i in ids for c in self.tokens[int(i)]
                     if c in self._to_byte)
        return data.decode("utf-8", errors="replace")
