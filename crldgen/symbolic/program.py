"""Straight-line programs: ordered ``symbol = expression`` statements.

A :class:`Program` keeps intermediate quantities (values, inverses, averages) as
named symbols instead of expanding them, which avoids sympy expression swell; the code
generator prints one statement per entry.
"""

from __future__ import annotations

import sympy


class LinearSolve:
    """A statement ``targets = A^-1 B`` solved numerically (partial pivoting) in generated code.

    ``targets`` is a matrix of fresh symbols with the shape of ``B``.
    """

    def __init__(self, targets: sympy.Matrix, A: sympy.Matrix, B: sympy.Matrix) -> None:
        self.targets, self.A, self.B = targets, A, B


class Program:
    """An ordered list of assignments ``(symbol, expression)`` and :class:`LinearSolve` statements."""

    def __init__(self, prefix: str = "t") -> None:
        self.statements: list[tuple[sympy.Symbol, sympy.Expr]] = []
        self._prefix = prefix
        self._count = 0

    def new(self, expr: sympy.Expr, name: str | None = None) -> sympy.Expr:
        """Record ``expr`` under a fresh symbol; atoms are returned unchanged."""
        expr = sympy.sympify(expr)
        if expr.is_Atom:
            return expr
        if name is None:
            name = f"{self._prefix}{self._count}"
            self._count += 1
        sym = sympy.Symbol(name, real=True)
        self.statements.append((sym, expr))
        return sym

    def solve(self, A: sympy.Matrix, B: sympy.Matrix, tag: str) -> sympy.Matrix:
        """Record ``A^-1 B`` as a :class:`LinearSolve`; returns the matrix of target symbols."""
        targets = sympy.Matrix(B.shape[0], B.shape[1],
                               lambda r, c: sympy.Symbol(f"{tag}_{r}_{c}", real=True))
        self.statements.append(LinearSolve(targets, sympy.Matrix(A), sympy.Matrix(B)))
        return targets

    def extend(self, other: Program) -> None:
        self.statements.extend(other.statements)

    def definitions(self) -> dict:
        """``{symbol: expression}`` of the scalar assignments (linear solves excluded)."""
        return dict(st for st in self.statements if not isinstance(st, LinearSolve))


def inverse_program(A: sympy.Matrix, prog: Program, tag: str) -> sympy.Matrix:
    """Gauss-Jordan inverse of ``A`` without pivoting, as statements in ``prog``.

    Valid for matrices whose leading principal minors are non-zero, e.g. the strictly
    diagonally dominant ``Id - gamma Tx`` (gamma < 1, Tx stochastic). Returns the
    inverse as a matrix of symbols/expressions.
    """
    n = A.shape[0]
    a = [[A[r, c] for c in range(n)] for r in range(n)]
    b = [[sympy.Integer(int(r == c)) for c in range(n)] for r in range(n)]
    for k in range(n):
        inv = prog.new(1 / a[k][k], f"{tag}_p{k}")
        for c in range(k + 1, n):
            a[k][c] = prog.new(a[k][c] * inv, f"{tag}_a{k}_{c}")
        for c in range(n):
            b[k][c] = prog.new(b[k][c] * inv, f"{tag}_b{k}_{c}")
        for r in range(n):
            if r == k or a[r][k] == 0:
                continue
            fac = a[r][k]
            for c in range(k + 1, n):
                a[r][c] = prog.new(a[r][c] - fac * a[k][c], f"{tag}_a{r}_{c}_{k}")
            for c in range(n):
                if b[k][c] != 0:
                    b[r][c] = prog.new(b[r][c] - fac * b[k][c], f"{tag}_b{r}_{c}_{k}")
            a[r][k] = sympy.Integer(0)
    return sympy.Matrix(b)
