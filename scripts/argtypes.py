"""Numbers as a person types them on the command line: ``100000``, ``100_000``, ``100,000``,
``1e5`` and ``0x186a0`` are the same count; ``0.3`` and ``30%`` the same chance. Each is an
argparse type, so a refusal names the flag beside the value."""

from __future__ import annotations

import argparse
import math

__all__ = ["parse_int", "integer", "natural", "chance"]


def parse_int(text: str) -> int:
    """An integer from ``text``; ValueError if it is none (1.5 is none)."""
    plain = text.strip().replace("_", "").replace(",", "")
    try:
        return int(plain, 0)
    except ValueError:
        pass
    value = float(plain)                  # 1e5; raises ValueError for words
    if not math.isfinite(value) or value != int(value):
        raise ValueError(text)
    return int(value)


def integer(text: str) -> int:
    """An argparse type: any integer."""
    try:
        return parse_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None


def natural(text: str) -> int:
    """An argparse type: an integer at least 0."""
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, not {value}")
    return value


def chance(text: str) -> float:
    """An argparse type: a probability as a fraction (0.3) or a percentage (30%)."""
    plain = text.strip()
    try:
        value = float(plain[:-1]) / 100 if plain.endswith("%") else float(plain)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction (0.3) or percentage (30%), "
                                         f"not {text!r}") from None
    return value
