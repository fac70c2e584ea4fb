"""Parameter checks shared by the RTL generators."""

__all__ = ["check_int"]


def check_int(component, name: str, value, lo: int, hi: int) -> None:
    """Refuse ``value`` unless it is an integer in ``lo..hi``, naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        # A component refused at construction is no design left unused: keep Amaranth's
        # "created but never used" warning for real mistakes.
        component._MustUse__used = True
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
