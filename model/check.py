"""``vrex model check``: is the model read right? Perplexity and next-token top-1 accuracy of
a causal forward pass over a text, numbers anyone can compare with another implementation."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .gguf_file import ModelError
from .llama import Llama, log_softmax

__all__ = ["CheckResult", "check_model"]


@dataclasses.dataclass(frozen=True)
class CheckResult:
    tokens: int                # tokens in the forward pass
    perplexity: float          # exp(mean negative log-likelihood of each next token)
    accuracy: float            # share of next tokens that are the most likely one
    seconds: float             # the forward pass alone

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_model(model: Llama, ids, *, where: str = "text") -> CheckResult:
    """One causal forward pass over ``ids`` (at least two tokens): perplexity and top-1
    accuracy of the predictions of tokens 1 .. n-1."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size < 2:
        raise ModelError(f"{where}: too short: {ids.size} tokens, the check needs at least 2")
    start = time.perf_counter()
    logits = model.forward(ids)
    seconds = time.perf_counter() - start
    lp = log_softmax(logits[:-1].astype(np.float64))
    nll = -lp[np.arange(ids.size - 1), ids[1:]]
    return CheckResult(tokens=int(ids.size), perplexity=float(np.exp(nll.mean())),
                       accuracy=float((lp.argmax(axis=1) == ids[1:]).mean()), seconds=seconds)
