"""Parameter checks shared by the RTL generators."""

import inspect

__all__ = ["check_int", "CheckedParams"]


def check_int(name: str, value, lo: int, hi: int) -> None:
    """Refuse ``value`` unless it is an integer in ``lo..hi``, naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")


class CheckedParams:
    """Mixin (listed before the Amaranth base) for an elaboratable that refuses bad
    constructor parameters: its classmethod ``check``, given every parameter of
    ``__init__`` by name (defaults filled in), raises before the object exists.

    Amaranth arms its "created but never used" warning in ``__new__``, before ``__init__``
    runs, so a component refused in ``__init__`` would warn when collected. A component
    refused here is never created, so a refusal is no design left unused, and a valid
    component that is never used still warns, at the line that built it.
    """

    def __new__(cls, *args, **kwargs):
        # The parameters by name as __init__ will see them, defaults filled in (None: self).
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        bound.apply_defaults()
        _self, *params = bound.arguments.items()
        cls.check(**dict(params))
        # src_loc_at=1: the warning names the constructor's caller, not this frame.
        return super().__new__(cls, *args, src_loc_at=1, **kwargs)

    @classmethod
    def check(cls, **params) -> None:
        """Raise if the constructor's parameters (all of them, by name) are refused."""
