"""Kernels compiled without a Python entry point: a Python call raises instead of crashing.

A generated module's ``_``-prefixed helpers (``_stage1``, ``_stage2``, ``_solve``, ``_copy``,
``_prob``, ``_reward``, ...) are called only from its other kernels, so they are compiled
with ``no_cpython_wrapper=True`` (see :func:`crldgen.codegen.template.decorator`): numba
then skips their Python wrappers (with the C wrappers every kernel skips, the chapter's
module compiles in 3.5 s instead of 4.1 s of CPU). The game-independent kernels follow the
same rule and call :func:`guard` at the end of their modules (``crldgen.runtime.engine``,
``crldgen.runtime.lanes``, ``crldgen.value.kernels``, ``crldgen.sample._kernels``); the
anonymous games' modules are loaded, and guarded, like the others. numba still lets Python
call such a dispatcher and jumps to the missing wrapper, which kills the interpreter (numba
issue 2541).
:func:`guard` gives those dispatchers the class :class:`InnerDispatcher`, whose Python call
raises a ``TypeError`` naming the kernel; calls from other kernels are compiled as before
(numba types the dispatcher, it never goes through ``__call__``).
"""

from __future__ import annotations

from types import ModuleType

from numba.core.registry import CPUDispatcher


class InnerDispatcher(CPUDispatcher):
    """A ``CPUDispatcher`` of a kernel without a Python entry point: calling it from Python raises."""

    def __call__(self, *args, **kwargs):
        func = self.py_func
        raise TypeError(f"{func.__module__}.{func.__name__} is called only from other kernels of its module: "
                        "numba compiled it without a Python entry point (no_cpython_wrapper)")


def guard(module: ModuleType) -> int:
    """Give every dispatcher of ``module`` compiled with ``no_cpython_wrapper`` the class
    :class:`InnerDispatcher`; returns how many it changed."""
    n = 0
    for value in list(vars(module).values()):
        if type(value) is CPUDispatcher and value.targetoptions.get("no_cpython_wrapper"):
            value.__class__ = InnerDispatcher
            n += 1
    return n
