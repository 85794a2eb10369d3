"""A cached module's first calls in plain Python while numba loads its compiled kernels.

Loading a cached generated module costs about half a second before its first call, and
almost none of it is the module: ``import numba`` (0.25 s), numba's CPU target set-up on
the first dispatcher call (it imports ``scipy.linalg`` to look for BLAS, 0.1-0.2 s) and
reading the compiled kernels from numba's cache. A user who starts a script, compiles a
game crldgen has seen before and takes one step waits for all of that.

:class:`PythonModule` executes the same trusted source (the header is checked exactly as
by :func:`crldgen.runtime.loader.load_module`) with a stand-in for ``numba`` whose
``njit`` leaves functions as they are, so every kernel is the plain-Python function
numba would compile. The first ``step``, ``tderror``, ``jacobian``, ... calls run those
(tens of microseconds for a small game: the same statements, the same IEEE arithmetic)
while a background thread imports numba, loads the real module and its cached kernels,
and then swaps them in. Loops (``trajectory``, ``trajectories``, sweeps, the batch and
row kernels) wait for the compiled kernels instead of running in Python. A kernel whose
Python run meets an arithmetic edge case that numba handles differently (``math.exp``
overflow raises in Python, numba returns ``inf``) also waits and calls the compiled
kernel, so results and error reporting are those of the compiled module.

Used by :func:`crldgen.compiler.compile` for cached uniform modules when numba is not
imported yet (``CRLDGEN_PYTHON_START=0`` turns it off).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import CacheError, GenerationError

#: kernels that loop (many steps or many members): they wait for the compiled module
WAITING = frozenset({
    "trajectory", "logit_step_lanes", "tderror_rows", "strategy_step_rows", "check_game_rows",
})


def enabled() -> bool:
    """Whether the plain-Python start is on (``CRLDGEN_PYTHON_START``, default 1)."""
    return os.environ.get("CRLDGEN_PYTHON_START", "1").strip() not in ("0", "false", "no", "off")


def _njit(*args, **kwargs):
    """``numba.njit`` stand-in: ``@njit`` and ``@njit(...)`` both return the function unchanged."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda f: f


#: what the generated source uses of numba (``njit`` with options, ``prange``)
STUB_NUMBA = types.SimpleNamespace(njit=_njit, prange=range)


class PythonModule(ModuleType):
    """A generated module served in plain Python until its compiled kernels are loaded.

    Every attribute is the module's (constants, ``KEY``, kernels); kernels are the
    plain-Python functions until a background thread has loaded the compiled module
    (:meth:`wait_compiled`), then the compiled dispatchers.
    """

    def __init__(self, path: Path, key: str, load: Callable[[], ModuleType], *, label: str = "",
                 quiet: bool = True) -> None:
        from .loader import header_problem, split_header

        path = Path(path).resolve()
        problem = header_problem(path, key)
        if problem:
            raise CacheError(f"refusing to import {path}: {problem}. Regenerate it with crldgen.generate(model) "
                             "(crldgen.compile does this automatically)")
        _, body = split_header(path.read_text(encoding="utf-8"))
        if "\nimport numba\n" not in body:
            raise GenerationError(f"{path} does not import numba the way generated modules do")
        super().__init__(f"crldgen_py_{path.stem}", None)
        ns: dict = {"__name__": self.__name__, "__file__": str(path), "numba": STUB_NUMBA}
        try:
            exec(compile(body.replace("\nimport numba\n", "\n", 1), str(path), "exec"), ns)  # noqa: S102 - trusted
        except Exception as exc:
            raise GenerationError(f"executing generated module {path} in Python failed: {exc}") from exc
        self._python = ns
        self._load = load
        self._module: ModuleType | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list = []
        self._label = label or path.stem
        self._quiet = quiet
        self._served: list[str] = []
        for name, value in ns.items():
            if name.startswith("__") and name != "__doc__":
                continue
            if isinstance(value, types.FunctionType) and value.__module__ == self.__name__:
                value = self._waiting(name) if name in WAITING else self._python_first(name, value)
                self._served.append(name)
            self.__dict__[name] = value
        self.__dict__["__file__"] = str(path)
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._compile, name=f"crldgen-load-{self._label}", daemon=False)
        self._thread.start()

    # ------------------------------------------------------------ switching
    @property
    def compiled(self) -> bool:
        """Whether the compiled kernels serve the calls now."""
        return self._done.is_set() and self._error is None

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Block until the compiled module is loaded; True when its kernels took over."""
        self._done.wait(timeout)
        return self.compiled

    def when_compiled(self, callback: Callable[[ModuleType], None]) -> None:
        """Call ``callback(module)`` once the compiled kernels serve the calls (now, if they do)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        if self._error is None:
            callback(self._module)

    def _compile(self) -> None:
        try:
            module = self._load()
        except BaseException as exc:  # the Python kernels keep serving; loops report it
            self._error = exc
            if not self._quiet:
                print(f"crldgen: loading the compiled kernels of {self._label} failed ({type(exc).__name__}: {exc})",
                      file=sys.stderr, flush=True)
        else:
            self._module = module
            for name in self._served:
                self.__dict__[name] = getattr(module, name)
        finally:
            with self._lock:
                self._done.set()
                callbacks, self._callbacks = self._callbacks, []
        if self._error is None:
            for callback in callbacks:
                callback(self._module)

    def _compiled(self, name: str):
        self._done.wait()
        if self._error is not None:
            raise GenerationError(f"the compiled kernels of {self._label} could not be loaded: {self._error}") \
                from self._error
        return getattr(self._module, name)

    def _waiting(self, name: str):
        def call(*args):
            return self._compiled(name)(*args)

        call.__name__ = call.__qualname__ = name
        return call

    def _python_first(self, name: str, func):
        def call(*args):
            if not self._done.is_set():
                try:
                    with np.errstate(all="ignore"):
                        return func(*args)
                except Exception:  # e.g. math.exp overflow, where numba returns inf: the compiled kernel answers
                    pass
            return self._compiled(name)(*args)

        call.__name__ = call.__qualname__ = name
        call.py_func = func
        return call


def kernels_cached_beside(path: str) -> bool:
    """Whether numba's cache beside ``path`` holds the module's main kernels (index files; nothing imported)."""
    p = Path(path)
    cache = p.parent / "__pycache__"
    return all(list(cache.glob(f"{p.stem}.{name}-*.nbi")) for name in ("trajectory", "strategy_step",
                                                                        "checked_strategy_step"))
