"""Remember numba's resolution of a function type at given argument types (cuts cold compile time).

numba types every operation of a kernel by trying the templates of its function type in
turn: ``a * b`` with two float64 runs the NumPy ufunc templates' loop matching (and
throws the result away, no array being involved) before the scalar template answers.
It does this again for every one of the thousands of operations of a generated kernel,
with the same argument types each time: about two thirds of the type inference of the
Jacobian of an eight-agent game (8 of 16 s of its compile) is this repetition.

:func:`install` wraps ``numba.core.types.functions.BaseFunction.get_call_type`` (the
function types of operators and of ``math``/NumPy functions; not calls of other
kernels, which are ``Dispatcher`` types) with a dictionary per function type keyed by
the typing context and the argument types. A function type's identity includes its
templates (numba makes a new one when a template is registered), so a later
registration never meets a stale entry. Only successful resolutions are remembered;
a failure runs numba's own resolution and raises its error as before. The signature
returned is the one numba's resolution returned the first time, and numba records the
implementation for it then (``_impl_keys``), so typing and lowering are unchanged:
only the repeated search goes.

``CRLDGEN_TYPING_MEMO=0`` leaves numba as it is (the compiled code is the same either way).
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_installed = False


def install() -> bool:
    """Install the memo once per process; returns whether it is active.

    Does nothing (returns False) with ``CRLDGEN_TYPING_MEMO=0`` or when this numba has
    no ``BaseFunction.get_call_type`` of the expected form.
    """
    global _installed
    if _installed:
        return True
    if os.environ.get("CRLDGEN_TYPING_MEMO", "1").strip() == "0":
        return False
    with _lock:
        if _installed:
            return True
        try:
            from numba.core.types import functions
        except ImportError:  # pragma: no cover - numba moved the module
            return False
        base = getattr(functions, "BaseFunction", None)
        original = getattr(base, "get_call_type", None)
        if original is None or getattr(original, "_crldgen_memo", False):
            _installed = original is not None
            return _installed

        def get_call_type(self, context, args, kws):
            try:
                key = (id(context), tuple(args), tuple(sorted(kws.items())) if kws else ())
                memo = self.__dict__.get("_crldgen_calls")
                if memo is None:
                    memo = self.__dict__.setdefault("_crldgen_calls", {})
                sig = memo.get(key)
            except TypeError:  # an unhashable argument type: numba's own resolution
                return original(self, context, args, kws)
            if sig is None:
                sig = original(self, context, args, kws)
                if sig is not None:
                    memo[key] = sig
            return sig

        get_call_type._crldgen_memo = True
        get_call_type.__wrapped__ = original
        get_call_type.__doc__ = original.__doc__
        base.get_call_type = get_call_type
        _installed = True
        return True


def installed() -> bool:
    """Whether :func:`install` is active in this process."""
    return _installed
