"""Print straight-line programs as Python statements for numba (text only).

Floats are printed with ``repr`` (exact round trip), integer powers as products,
``exp``/``log`` as ``math`` calls. Statements that depend on inputs only are hoisted and
common subexpressions eliminated with :func:`sympy.cse`; the remaining statements keep
their order.
"""

from __future__ import annotations

import keyword
import re

import sympy
from sympy.printing.pycode import PythonCodePrinter

from ..errors import GenerationError
from ..symbolic.program import Program

_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_MAX_LINE_TERMS = 40


class KernelPrinter(PythonCodePrinter):
    """A code printer whose output is plain float arithmetic numba compiles well."""

    def __init__(self) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3"})

    def _print_Symbol(self, expr):  # names are ASCII identifiers by construction; checked again here
        if not _SAFE_NAME.fullmatch(expr.name) or keyword.iskeyword(expr.name):
            raise GenerationError(f"symbol name {expr.name!r:.60} is not an ASCII identifier; it cannot be printed "
                                  "into generated code")
        return expr.name

    def _print_not_supported(self, expr):  # never print str(expr) of something unknown into code
        raise GenerationError(f"cannot print {type(expr).__name__} {str(expr)[:60]!r} into generated code")

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Integer(self, expr):
        return f"{int(expr)}.0"

    def _print_Rational(self, expr):
        return f"({expr.p}.0/{expr.q}.0)"

    def _print_Half(self, expr):
        return "0.5"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        b = self.parenthesize(base, sympy.printing.precedence.PRECEDENCE["Mul"] + 1)
        if exp.is_Integer and int(exp) == 1:
            return b
        if exp.is_Integer and 2 <= int(exp) <= 6:
            return "(" + "*".join([b] * int(exp)) + ")"
        if exp.is_Integer and -6 <= int(exp) <= -1:
            return "(1.0/(" + "*".join([b] * -int(exp)) + "))"
        if exp == sympy.S.Half:
            return f"math.sqrt({self._print(base)})"
        return f"{b}**{self.parenthesize(exp, sympy.printing.precedence.PRECEDENCE['Pow'])}"


_printer = KernelPrinter()


def expr_code(expr) -> str:
    return _printer.doprint(sympy.sympify(expr))


def _free(expr) -> set:
    return sympy.sympify(expr).free_symbols


def program_lines(
    prog: Program,
    inputs: set,
    outputs: list[tuple[str, sympy.Expr]],
    solve_helper: str = "_solve",
) -> list[str]:
    """Statement lines computing ``outputs`` (``[(target text, expr)]``) from ``inputs``.

    Only the statements the outputs need are printed (dead code is dropped).
    """
    from ..symbolic.program import LinearSolve

    needed: set = set()
    for _, e in outputs:
        needed |= _free(e)
    keep = []
    for st in reversed(prog.statements):
        if isinstance(st, LinearSolve):
            targets = set(st.targets)
            if targets & needed:
                keep.append(st)
                for e in list(st.A) + list(st.B):
                    needed |= _free(e)
        else:
            sym, expr = st
            if sym in needed:
                keep.append(st)
                needed |= _free(expr)
    keep.reverse()
    hoist, rest = [], []
    for st in keep:
        if not isinstance(st, LinearSolve) and _free(st[1]) <= inputs:
            hoist.append(st)
        else:
            rest.append(st)
    lines: list[str] = []
    if hoist:
        reps, reduced = sympy.cse([e for _, e in hoist], symbols=sympy.numbered_symbols("cs"), order="none")
        lines += [f"{s.name} = {expr_code(e)}" for s, e in reps]
        lines += [f"{sym.name} = {expr_code(e)}" for (sym, _), e in zip(hoist, reduced)]
    for st in rest:
        if isinstance(st, LinearSolve):
            n, k = st.B.shape
            tag = st.targets[0].name + "_sys"
            lines.append(f"{tag}_A = np.empty({n * n})")
            lines.append(f"{tag}_B = np.empty({n * k})")
            lines += [f"{tag}_A[{r * n + c}] = {expr_code(st.A[r, c])}" for r in range(n) for c in range(n)]
            lines += [f"{tag}_B[{r * k + c}] = {expr_code(st.B[r, c])}" for r in range(n) for c in range(k)]
            lines.append(f"{solve_helper}({tag}_A, {tag}_B, {n}, {k})")
            lines += [f"{st.targets[r, c].name} = {tag}_B[{r * k + c}]" for r in range(n) for c in range(k)]
        else:
            sym, expr = st
            lines.append(f"{sym.name} = {expr_code(expr)}")
    if outputs:
        reps, reduced = sympy.cse([e for _, e in outputs], symbols=sympy.numbered_symbols("co"), order="none")
        lines += [f"{s.name} = {expr_code(e)}" for s, e in reps]
        lines += [f"{target} = {expr_code(e)}" for (target, _), e in zip(outputs, reduced)]
    return lines
