"""What ``vrex compare`` says about two output files: for each key that differs, how many
elements, where the first few are and both values there; keys that only one file has; and
whether the files are of different units at all."""

from __future__ import annotations

import numpy as np

__all__ = ["describe_differences"]


def _value(x) -> str:
    x = x.item() if isinstance(x, np.generic) else x
    return repr(x) if isinstance(x, str) else str(x)


def _index(i: tuple) -> str:
    return "[" + ", ".join(str(int(k)) for k in i) + "]"


def _key_lines(key: str, a: np.ndarray, b: np.ndarray, limit: int) -> str:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"{key}: shape {list(a.shape)} in A, {list(b.shape)} in B"
    if a.ndim == 0:
        return f"{key}: A {_value(a[()])}, B {_value(b[()])}"
    if a.dtype.kind in "US" or b.dtype.kind in "US":
        differ = a.astype(str) != b.astype(str)
    else:
        differ = a != b
    where = np.argwhere(differ)
    first = ", ".join(f"{_index(tuple(i))} A {_value(a[tuple(i)])} B {_value(b[tuple(i)])}"
                      for i in where[:limit])
    more = ", ..." if len(where) > limit else ""
    return f"{key}: {len(where)} of {a.size} elements differ; first {first}{more}"


def describe_differences(a: dict, b: dict, *, limit: int = 4) -> list[str]:
    """One line per difference between output mappings ``a`` and ``b`` (empty: equal)."""
    lines = []
    unit_a, unit_b = a.get("unit"), b.get("unit")
    if unit_a is not None and unit_b is not None and str(unit_a) != str(unit_b):
        lines.append(f"unit: A is a {str(unit_a)!r} file, B a {str(unit_b)!r} file: the keys "
                     f"below cannot agree")
    for side, mine, other in (("A", a, b), ("B", b, a)):
        only = sorted(set(mine) - set(other))
        if only:
            lines.append(f"only in {side}: {', '.join(only)}")
    for key in sorted(set(a) & set(b)):
        if key == "unit" or np.array_equal(a[key], b[key]):
            continue
        lines.append(_key_lines(key, a[key], b[key], limit))
    return lines
