"""crldgen.runtime.typing_memo: numba's function-type resolution remembered, with the same answers."""

from __future__ import annotations

import json
import math
import operator
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from numba.core import errors, types
from numba.core.registry import cpu_target

from crldgen.runtime import typing_memo

ROOT = Path(__file__).resolve().parents[1]


def test_memo_is_installed_by_the_runtime():
    assert typing_memo.install() and typing_memo.installed()
    from numba.core.types.functions import BaseFunction

    assert getattr(BaseFunction.get_call_type, "_crldgen_memo", False)


@pytest.mark.parametrize("fn, args", [
    (operator.mul, (types.float64, types.float64)),
    (operator.add, (types.int64, types.float64)),
    (operator.truediv, (types.int64, types.int64)),
    (operator.pow, (types.float64, types.IntegerLiteral(2))),
    (operator.lt, (types.float64, types.float64)),
    (math.log, (types.float64,)),
    (math.exp, (types.int64,)),
])
def test_remembered_resolution_equals_numbas_own(fn, args):
    """The signature of a repeated resolution is the one numba's own search returns, every time."""
    typing_memo.install()
    context = cpu_target.typing_context
    context.refresh()
    fnty = context.resolve_value_type(fn)
    own = type(fnty).get_call_type.__wrapped__(fnty, context, args, {})
    first = fnty.get_call_type(context, args, {})
    again = fnty.get_call_type(context, args, {})
    assert own == first == again
    assert own.return_type == again.return_type and own.args == again.args
    assert fnty.get_impl_key(again) is not None  # the lowering finds the implementation of the signature


def test_failed_resolution_raises_as_before():
    """A resolution that fails is not remembered and raises numba's own error each time."""
    typing_memo.install()
    context = cpu_target.typing_context
    context.refresh()
    fnty = context.resolve_value_type(math.log)
    for _ in range(2):
        with pytest.raises(errors.TypingError):
            fnty.get_call_type(context, (types.unicode_type,), {})


def test_kernels_compiled_with_and_without_the_memo_agree_bit_for_bit(tmp_path):
    """The same kernel compiled in a process without the memo (CRLDGEN_TYPING_MEMO=0) and in this one."""
    script = tmp_path / "kernel.py"
    script.write_text(
        "import json, math, sys\n"
        "import numba, numpy as np\n"
        "from crldgen.runtime import typing_memo\n"
        "@numba.njit\n"
        "def f(x, n):\n"
        "    acc = 0.0\n"
        "    for k in range(n):\n"
        "        acc += math.log(x[k]) * x[k] ** 2 - 3 * k / (k + 1) + math.exp(-x[k]) // 0.3\n"
        "    return acc, n // 3, (n * 1.5) % 2\n"
        "x = np.linspace(0.1, 2.0, 17)\n"
        "r = f(x, 17)\n"
        "print(json.dumps({'memo': typing_memo.installed(), 'r': [float(r[0]).hex(), r[1], float(r[2]).hex()],\n"
        "                  'types': [str(t) for t in f.nopython_signatures[0].return_type]}))\n")
    runs = {}
    for flag in ("0", "1"):
        env = dict(os.environ, CRLDGEN_TYPING_MEMO=flag, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(tmp_path / flag))
        code = f"import crldgen.runtime.lanes\nexec(open({str(script)!r}).read())"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        runs[flag] = json.loads(out.stdout.strip().splitlines()[-1])
    assert runs["0"]["memo"] is False and runs["1"]["memo"] is True
    assert runs["0"]["r"] == runs["1"]["r"] and runs["0"]["types"] == runs["1"]["types"]


def test_generated_kernels_agree_with_and_without_the_memo(ecopg2):
    """A generated module's TD error: this process (memo on) against a fresh process with the memo off."""
    dyn = ecopg2
    X = dyn.random_strategy(4)
    here = np.asarray(dyn.tderror(X)).ravel()
    code = ("import sys, numpy as np\n"
            "from crldgen.runtime.loader import load_module\n"
            "from crldgen.runtime import typing_memo\n"
            f"m = load_module({str(dyn.path)!r})\n"
            "X = np.array([float.fromhex(v) for v in sys.argv[1].split(',')])\n"
            "a, b, g, th = (np.array([float.fromhex(v) for v in s.split(',')]) for s in sys.argv[2:6])\n"
            "out = np.empty(X.size)\n"
            "m.tderror(X, th, a, b, g, out)\n"
            "print(typing_memo.installed(), ','.join(float(v).hex() for v in out))\n")
    alpha, beta, gamma, theta = dyn.params()
    hexes = [",".join(float(v).hex() for v in np.ravel(arr)) for arr in (X, alpha, beta, gamma, theta)]
    env = dict(os.environ, CRLDGEN_TYPING_MEMO="0", PYTHONPATH=str(ROOT))
    env["NUMBA_CACHE_DIR"] = str(Path(os.environ.get("CRLDGEN_TEST_CACHE", "/tmp")) / "memo-off-numba")
    out = subprocess.run([sys.executable, "-c", code, *hexes], capture_output=True, text=True, env=env, check=True)
    installed, values = out.stdout.strip().splitlines()[-1].split(" ")
    assert installed == "False"
    np.testing.assert_array_equal(np.array([float.fromhex(v) for v in values.split(",")]), here)
