"""Argument checks shared by the public functions (plain Python and numpy, no sympy).

Every check raises :class:`~crldgen.errors.ParameterError` (or the error class given)
with a message of the form ``"<argument> = <value>: <rule>"``, so a user always sees
which argument was wrong, what it was and what is allowed. Booleans and strings are
never taken for numbers (``tmax=True``, ``tol='1e-5'`` and ``every='all'`` are errors).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import ParameterError


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None, *,
              allow_none: bool = False, error: type = ParameterError) -> int | None:
    """``value`` as an int (integral numbers only, never bool or str) within ``[minimum, maximum]``."""
    if value is None and allow_none:
        return None
    rule = "an integer"
    if minimum is not None and maximum is not None:
        rule += f" in [{minimum}, {maximum}]"
    elif minimum is not None:
        rule += f" >= {minimum}"
    elif maximum is not None:
        rule += f" <= {maximum}"
    if allow_none:
        rule += " (or None)"
    if _is_bool(value) or not isinstance(value, (numbers.Integral, numbers.Real)):
        raise error(f"{name} = {_show(value)}: must be {rule}, not a {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    else:
        v = float(value)
        if not (math.isfinite(v) and v.is_integer()):
            raise error(f"{name} = {_show(value)}: must be {rule}")
        out = int(v)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        raise error(f"{name} = {_show(value)}: must be {rule}")
    return out


def check_real(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
               strict_min: bool = False, strict_max: bool = False, allow_none: bool = False,
               error: type = ParameterError) -> float | None:
    """``value`` as a finite float (never bool or str) within the given bounds."""
    if value is None and allow_none:
        return None
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if strict_min else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if strict_max else '<='} {maximum:g}")
    rule = "a finite number" + (" " + " and ".join(parts) if parts else "") + (" (or None)" if allow_none else "")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise error(f"{name} = {_show(value)}: must be {rule}, not a {type(value).__name__}")
    v = float(value)
    ok = math.isfinite(v)
    if ok and minimum is not None:
        ok = v > minimum if strict_min else v >= minimum
    if ok and maximum is not None:
        ok = v < maximum if strict_max else v <= maximum
    if not ok:
        raise error(f"{name} = {_show(value)}: must be {rule}")
    return v


def check_bool(name: str, value: Any, error: type = ParameterError) -> bool:
    """``value`` must be True or False (``'False'`` and ``0`` are not booleans)."""
    if not _is_bool(value):
        raise error(f"{name} = {_show(value)}: must be True or False, not a {type(value).__name__}")
    return bool(value)


def check_interval(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                   error: type = ParameterError) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite numbers with ``lo < hi`` (inside ``[minimum, maximum]`` if given)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise error(f"{name} = {_show(value)}: must be a pair (lo, hi) of finite numbers with lo < hi")
    lo = check_real(f"{name}[0]", value[0], minimum=minimum, maximum=maximum, error=error)
    hi = check_real(f"{name}[1]", value[1], minimum=minimum, maximum=maximum, error=error)
    if not lo < hi:
        raise error(f"{name} = {_show(value)}: the lower end must be smaller than the upper end (lo < hi)")
    return lo, hi


def check_choice(name: str, value: Any, choices: Sequence, error: type = ParameterError):
    """``value`` must be one of ``choices`` (compared with ``==``, strings only match strings)."""
    for c in choices:
        if type(value) is type(c) and value == c:
            return c
    raise error(f"{name} = {_show(value)}: must be one of {', '.join(repr(c) for c in choices)}")


def check_finite_array(name: str, value: Any, error: type = ParameterError) -> np.ndarray:
    """A float array with only finite entries (names the first bad index)."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise error(f"{name} = {_show(value)}: must be an array of numbers ({exc})") from exc
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        idx = tuple(int(k) for k in bad[0])
        raise error(f"{name}{list(idx)} = {float(arr[idx])!r}: every entry must be finite")
    return arr
