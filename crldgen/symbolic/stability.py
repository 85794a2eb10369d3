"""Symbolic linear stability of small games (sympy only).

The map in log-ratio coordinates is ``y' = y + alpha (delta[a] - delta[M-1])``
(:attr:`Model.update_logit`); with the closed-form values substituted
(:meth:`Model.values_closed_form`) it depends on ``y`` directly (SARSA's ``-y`` term)
and through ``X = softmax(y)`` (:meth:`Model.strategy_of_logit`). Its Jacobian is built
by the chain rule with the softmax derivative written in ``X`` itself,

    dX[i,s,a] / dy[i,s,c] = X[i,s,a] (1[a=c] - X[i,s,c]),

so every entry is a rational function of the strategy and the parameters: it can be
evaluated at a symbolic point (``X[i] = (x, 1-x)``), at a numeric fixed point, or kept
general. Eigenvalues come from sympy where it can find them, and the stability
condition ``|lambda| < 1`` can be solved for one parameter.

Keep it to tiny games (a few free coordinates, ``Z <= 2``): expressions grow fast.

Learner symbols are per agent (``alpha_0, alpha_1, ...``); by default they are
replaced by common symbols ``alpha, beta, gamma`` (pass ``common=False`` to keep them).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import mpmath
import numpy as np
import sympy

from ..errors import ParameterError

COMMON = {"alpha": sympy.Symbol("alpha", positive=True), "beta": sympy.Symbol("beta", positive=True),
          "gamma": sympy.Symbol("gamma", nonnegative=True)}
#: the ranges of the learner parameters (for solving stability conditions)
DOMAINS = {"alpha": sympy.Interval.Lopen(0, 1), "beta": sympy.Interval.open(0, sympy.oo),
           "gamma": sympy.Interval.Ropen(0, 1)}


# ------------------------------------------------------------------ substitutions
def parameter_substitutions(model, params: dict | None = None, common: bool = True,
                            game_defaults: bool = False) -> dict:
    """``{symbol: value}`` for learner and game parameters.

    ``params`` maps names (``alpha``, ``beta``, ``gamma`` for all agents, ``alpha_0``
    ..., game parameter names) to numbers or sympy expressions. With ``common``, the
    per-agent learner symbols without a value become the common symbols
    ``alpha, beta, gamma``. With ``game_defaults``, game parameters without a value get
    the game's default values.
    """
    params = dict(params or {})
    subs = {}
    game_syms = {s.name: s for s in model.theta}
    per_agent = {"alpha": model.alpha, "beta": model.beta, "gamma": model.gamma}
    for name, value in params.items():
        value = _as_expr(value, name)
        if name in per_agent:
            for sym in per_agent[name]:
                subs[sym] = value
        elif name.rpartition("_")[0] in per_agent and name.rpartition("_")[2].isdigit():
            head, _, i = name.rpartition("_")
            if int(i) >= model.n_agents:
                raise ParameterError(f"{name}: agent index out of range (N={model.n_agents})")
            subs[per_agent[head][int(i)]] = value
        elif name in game_syms:
            subs[game_syms[name]] = value
        else:
            raise ParameterError(f"unknown parameter {name!r}; learner parameters are alpha, beta, gamma "
                                 f"(or alpha_0, ...), game parameters are {sorted(game_syms)}")
    if game_defaults:
        for name, value in model.game.params.items():
            subs.setdefault(model.game.symbol(name), sympy.Float(value))
    if common:
        for name, syms in per_agent.items():
            for sym in syms:
                subs.setdefault(sym, COMMON[name])
    return subs


def _as_expr(value, what: str) -> sympy.Expr:
    """A number or sympy object as an expression; text is rejected, never parsed."""
    if isinstance(value, str):
        raise ParameterError(f"{what} is text ({value!r}); pass a number or a sympy expression (text is never parsed)")
    try:
        return sympy.sympify(value, strict=True)
    except sympy.SympifyError as exc:
        raise ParameterError(f"{what} = {value!r} is not a number or sympy expression") from exc



def point_substitutions(model, point) -> dict:
    """``{X symbol: value}`` from a strategy array (N, Q, M) of numbers or expressions, or a dict."""
    if point is None:
        return {}
    if isinstance(point, dict):
        out = {}
        for k, v in point.items():
            key = model._X[tuple(k)] if isinstance(k, tuple) else k
            out[key] = _as_expr(v, str(k))
        return out
    arr = np.asarray(point, dtype=object)
    shape = model._X.shape
    if arr.shape != shape:
        raise ParameterError(f"point has shape {arr.shape}; expected (N, Q, M) = {shape}")
    return {model._X[idx]: _as_expr(arr[idx], f'point{list(idx)}') for idx in np.ndindex(*shape)}


# ------------------------------------------------------------------ the map
@lru_cache(maxsize=16)
def _map_parts(model):
    """``(D, G)`` with the closed-form values substituted, both in the strategy symbols only.

    ``D[k] = beta_i (Q[i,s,a] - Q[i,s,M-1])`` and ``G[k] = delta[a] - delta[M-1]``, which is
    ``D[k] - ln(X[a] / X[M-1])`` for SARSA and ``D[k]`` for actor-critic; the map is
    ``y' = y + alpha_i G`` (crld-math.md section 4).
    """
    values = model.values_closed_form()
    X = model._X
    D, G = [], []
    for i, s, a in np.ndindex(*model._y.shape):
        d = model.beta[i] * model._dQ[i, s, a].xreplace(values)
        D.append(d)
        G.append(d - (sympy.log(X[i, s, a]) - sympy.log(X[i, s, -1]))
                 if model.learner.log_strategy_in_error else d)
    return sympy.Matrix(D), sympy.Matrix(G)


def flow_residual(model, point=None, params=None, common: bool = True) -> sympy.Matrix:
    """``delta[a] - delta[M-1]`` (the fixed point condition) in the strategy, at ``point``, with ``params``."""
    _, G = _map_parts(model)
    subs = parameter_substitutions(model, params, common)
    subs.update(point_substitutions(model, point))
    return G.xreplace(subs)


@lru_cache(maxsize=16)
def _jacobian_general(model) -> sympy.Matrix:
    """``dy'/dy`` in the strategy symbols (chain rule through ``X = softmax(y)``)."""
    D, _ = _map_parts(model)
    X = model._X
    N, Q, M = X.shape
    free = list(np.ndindex(*model._y.shape))
    n = len(free)
    sarsa = model.learner.log_strategy_in_error
    J = sympy.zeros(n, n)
    for r, (i, _, _) in enumerate(free):
        dD = {}
        for j, s, a in itertools.product(range(N), range(Q), range(M)):
            d = sympy.diff(D[r], X[j, s, a])
            if d != 0:
                dD[j, s, a] = d
        for k, (j, s, c) in enumerate(free):
            entry = sympy.Add(*[dD[j, s, a] * X[j, s, a] * ((1 if a == c else 0) - X[j, s, c])
                                for a in range(M) if (j, s, a) in dD])
            diag = 1 if r == k else 0
            J[r, k] = diag + model.alpha[i] * (entry - (diag if sarsa else 0))
    return J


def jacobian(model, point=None, params=None, common: bool = True, simplify: bool = True) -> sympy.Matrix:
    """The Jacobian ``dy'/dy`` (n_free x n_free) of the update map, symbolically.

    Parameters
    ----------
    model : Model
        Of a tiny game (closed-form values: ``Z <= 3``).
    point : array (N, Q, M) or dict, optional
        The strategy to evaluate at: numbers or sympy expressions (e.g. ``[[[x, 1-x]],
        [[x, 1-x]]]`` with a symbol ``x``). Default: general ``X`` symbols.
    params : dict, optional
        Parameter values (numbers or expressions) by name; the rest stay symbols.
    common : bool
        Use common learner symbols ``alpha, beta, gamma`` for all agents.
    simplify : bool
        ``sympy.simplify`` every entry (small games only).
    """
    J = _jacobian_general(model)
    subs = parameter_substitutions(model, params, common)
    subs.update(point_substitutions(model, point))
    J = J.xreplace(subs)
    if simplify:
        J = J.applyfunc(lambda e: sympy.factor(sympy.simplify(e)))
    return J


def latex(model, expr) -> str:
    """LaTeX of a matrix or expression with the game's labels (``x^{0}_{pc}``, ``\\alpha``, ...)."""
    from .latex import symbol_names

    names = symbol_names(model)
    names.update({COMMON["alpha"]: r"\alpha", COMMON["beta"]: r"\beta", COMMON["gamma"]: r"\gamma"})
    return sympy.latex(expr, symbol_names=names)


# ------------------------------------------------------------------ stability
class SymbolicStability:
    """Symbolic stability of one point (see :func:`symbolic_stability`).

    Attributes
    ----------
    jacobian : sympy Matrix of the map in log-ratio coordinates
    eigenvalues : list of expressions (with multiplicity), or None if sympy found none
    flow_eigenvalues : ``(lambda - 1)/alpha`` for each (None when the agents' learning rates differ)
    condition : sympy Boolean, ``|lambda| < 1`` for every eigenvalue (real eigenvalues
        as ``-1 < lambda < 1``)
    residual : the fixed point condition at the point (zero vector at a fixed point)
    """

    def __init__(self, model, J, eigenvalues, residual, params_subs):
        self.model = model
        self.jacobian = J
        self.eigenvalues = eigenvalues
        self.residual = residual
        self._subs = params_subs
        alphas = {params_subs.get(a, a) for a in model.alpha}
        alpha = alphas.pop() if len(alphas) == 1 else None
        self.flow_eigenvalues = None if eigenvalues is None or alpha is None else [
            sympy.simplify((lam - 1) / alpha) for lam in eigenvalues]
        self.condition = None if eigenvalues is None else sympy.And(*[_inside_unit_circle(lam)
                                                                        for lam in eigenvalues])

    def latex(self) -> str:
        """LaTeX of the Jacobian and the eigenvalues."""
        out = [r"J = " + latex(self.model, self.jacobian)]
        if self.eigenvalues is not None:
            out.append(r"\lambda \in \left\{" + ", ".join(latex(self.model, e) for e in self.eigenvalues)
                       + r"\right\}")
        return ",\\quad ".join(out)

    def _repr_latex_(self) -> str:
        return "$" + self.latex() + "$"

    def is_fixed_point(self) -> bool | None:
        """True if the residual simplifies to zero, False if it is numerically nonzero, else None."""
        vals = [sympy.simplify(e) for e in self.residual]
        if all(v == 0 for v in vals):
            return True
        if all(v.is_number for v in vals):
            return bool(all(abs(complex(v)) < 1e-12 for v in vals))
        return None

    def critical_values(self, param: str, kind: str = "any", with_kind: bool = False, **values) -> list:
        """Parameter values where an eigenvalue reaches the unit circle, solved in closed form.

        ``kind``: ``'fold'`` (lambda = +1), ``'flip'`` (lambda = -1), ``'neimark_sacker'``
        (a complex pair reaches ``|lambda| = 1``: ``re^2 + im^2 = 1`` with ``im != 0``
        there), ``'any'`` (all three). Other symbols are substituted from ``values`` (by
        name) first; only real roots in the parameter's range are returned, sorted; with
        ``with_kind=True`` as ``(value, kind)`` pairs.
        """
        if self.eigenvalues is None:
            raise ParameterError("sympy found no closed-form eigenvalues; use crldgen.symbolic.stability."
                                 "critical_value (numeric, from a guess)")
        kinds = {"fold": ("fold",), "flip": ("flip",), "neimark_sacker": ("neimark_sacker",),
                 "any": ("fold", "flip", "neimark_sacker")}
        if kind not in kinds:
            raise ParameterError(f"kind must be one of {sorted(kinds)}, got {kind!r}")
        sym = _name_symbol(self, param)
        subs = _value_subs(self, values)
        found: dict = {}
        for lam in self.eigenvalues:
            lam = lam.xreplace(subs)
            for k in kinds[kind]:
                if k == "neimark_sacker":
                    re, im = (sympy.simplify(part) for part in lam.as_real_imag())
                    if im == 0:
                        continue
                    roots = sympy.solve(sympy.Eq(sympy.simplify(re ** 2 + im ** 2), 1), sym)
                    roots = [r for r in roots if sympy.simplify(im.xreplace({sym: r})).is_zero is not True]
                else:
                    roots = sympy.solve(sympy.Eq(lam, 1 if k == "fold" else -1), sym)
                for sol in roots:
                    if sol.is_real is not False and _in_domain(param, sol):
                        found.setdefault(sympy.simplify(sol), k)
        out = sorted(found, key=lambda e: float(e) if e.is_number else 0.0)
        return [(v, found[v]) for v in out] if with_kind else out

    def stable_set(self, param: str, **values):
        """The set of values of ``param`` where the point is stable (all ``|lambda| < 1``).

        Every other symbol must get a number in ``values``.
        """
        if self.eigenvalues is None:
            raise ParameterError("sympy found no closed-form eigenvalues")
        sym = _name_symbol(self, param)
        subs = _value_subs(self, values)
        dom = DOMAINS.get(param, sympy.S.Reals)
        out = dom
        for lam in self.eigenvalues:
            lam = sympy.simplify(lam.xreplace(subs))
            extra = lam.free_symbols - {sym}
            if extra:
                raise ParameterError(f"give values for {sorted(map(str, extra))}")
            if lam.is_real or lam.is_real is None and sympy.im(lam) == 0:
                out = out.intersect(sympy.solveset(lam - 1 < 0, sym, dom)).intersect(
                    sympy.solveset(lam + 1 > 0, sym, dom))
            else:
                out = out.intersect(sympy.solveset(sympy.Abs(lam) ** 2 - 1 < 0, sym, dom))
        return out

    def __repr__(self) -> str:
        return (f"SymbolicStability(J={self.jacobian}, eigenvalues={self.eigenvalues})")


def _tidy(expr):
    """The shortest of a few equivalent forms (collected in alpha with factored coefficients, ...)."""
    alpha, beta = COMMON["alpha"], COMMON["beta"]
    forms = [expr, sympy.simplify(expr), sympy.factor(expr)]
    expanded = sympy.expand(expr)
    for var in (alpha, alpha * beta, [alpha * beta, alpha]):
        forms.append(sympy.collect(expanded, var, sympy.factor))
    return min(forms, key=sympy.count_ops)


def _inside_unit_circle(lam):
    if lam.is_real:
        return sympy.And(lam > -1, lam < 1)
    return sympy.Abs(lam) < 1


def _name_symbol(st: SymbolicStability, param: str):
    if param in COMMON:
        return COMMON[param]
    syms = {s.name: s for s in st.jacobian.free_symbols}
    if param not in syms:
        raise ParameterError(f"{param!r} is not a symbol of the Jacobian ({sorted(syms)})")
    return syms[param]


def _value_subs(st: SymbolicStability, values: dict) -> dict:
    syms = {s.name: s for s in st.jacobian.free_symbols}
    syms.update({k: v for k, v in COMMON.items()})
    out = {}
    for k, v in values.items():
        if k not in syms:
            raise ParameterError(f"{k!r} is not a symbol of the Jacobian ({sorted(syms)})")
        out[syms[k]] = _as_expr(v, k)
    return out


#: a value inside each learner parameter's range, to test the sign of symbolic solutions
_PROBE = {COMMON["alpha"]: sympy.Rational(1, 2), COMMON["beta"]: sympy.Integer(1),
          COMMON["gamma"]: sympy.Rational(1, 2)}


def _in_domain(param, value) -> bool:
    """False when ``value`` lies outside the range of ``param`` (for symbolic values: at a probe point)."""
    dom = DOMAINS.get(param)
    if dom is None:
        return True
    if not value.is_number:
        value = value.xreplace(_PROBE)
        if not value.is_number:
            return True
    return bool(dom.contains(value))


def symbolic_stability(model, point=None, params=None, common: bool = True, eigenvalues: bool = True,
                       simplify: bool = True) -> SymbolicStability:
    """Jacobian, closed-form eigenvalues and stability condition at ``point``.

    Parameters as for :func:`jacobian`. ``eigenvalues``: ask sympy for the eigenvalues
    (``None`` in the result when it cannot find them in closed form).

    Example (2x2 social dilemma at the symmetric point)::

        x = sympy.Symbol('x', positive=True)
        st = symbolic_stability(derive(social_dilemma()), [[[x, 1 - x]], [[x, 1 - x]]])
        st.jacobian, st.eigenvalues, st.condition
    """
    J = jacobian(model, point, params, common, simplify)
    ev = None
    if eigenvalues:
        try:
            found = J.eigenvals(simplify=True)
            ev = [_tidy(lam) for lam, mult in found.items() for _ in range(mult)]
            if sum(found.values()) != J.shape[0]:
                ev = None
        except (NotImplementedError, sympy.MatrixError):
            ev = None
    residual = flow_residual(model, point, params, common)
    return SymbolicStability(model, J, ev, residual, parameter_substitutions(model, params, common))


# ------------------------------------------------------------- critical values
def critical_value(model, param: str, point, guess: dict, kind: str = "fold", params=None, common: bool = True,
                   game_defaults: bool = True, tol: float = 1e-20, prec: int = 30) -> dict:
    """The parameter value where the fixed point ``point`` loses stability (sympy + mpmath ``findroot``).

    The unknowns are ``param`` and the free symbols of ``point`` (e.g. a symmetric point
    ``X[i, s] = (x_s, 1 - x_s)`` in unknowns ``x_s``, or plain numbers where a coordinate
    is known). The equations are the distinct non-zero components of the fixed point
    condition and the test function ``det(J - I) = 0`` (``kind='fold'``, an eigenvalue
    +1) or ``det(J + I) = 0`` (``kind='flip'``, an eigenvalue -1).

    Parameters
    ----------
    guess : dict
        Starting values by name for ``param`` and every unknown of ``point``.
    params : dict
        Values of the other parameters (game parameters default to the game's values
        unless ``game_defaults=False``).

    Returns
    -------
    dict
        ``{name: value}`` for ``param`` and the unknowns (sympy Floats).
    """
    if kind not in ("fold", "flip"):
        raise ParameterError(f"kind must be 'fold' or 'flip', got {kind!r}")
    params = dict(params or {})
    if param in params:
        raise ParameterError(f"{param!r} is the unknown: do not give it in params")
    mu = sympy.Symbol(f"_{param}_critical", real=True)
    params[param] = mu
    subs = parameter_substitutions(model, params, common, game_defaults)
    psubs = point_substitutions(model, point)
    unknowns = sorted(set().union(*[v.free_symbols for v in psubs.values()]) - {mu}, key=lambda s: s.name)
    variables = list(unknowns) + [mu]
    start = []
    for name in [s.name for s in unknowns] + [param]:
        if name not in guess:
            raise ParameterError(f"guess needs a value for {name!r}")
        start.append(float(guess[name]))
    _, G = _map_parts(model)
    G = G.xreplace(subs).xreplace(psubs)
    J = _jacobian_general(model).xreplace(subs).xreplace(psubs)
    left = (J.free_symbols | G.free_symbols) - set(variables)
    if left:
        raise ParameterError(f"give values for {sorted(map(str, left))} in params")
    # G and J are evaluated numerically (mpmath); the test function det(J -+ I) is never expanded
    g_fun = sympy.lambdify(variables, list(G), modules="mpmath", cse=True)
    j_fun = sympy.lambdify(variables, J, modules="mpmath", cse=True)
    keep = _distinct_nonzero(g_fun, start)
    if len(keep) + 1 != len(variables):
        raise ParameterError(
            f"{len(keep)} distinct fixed point conditions and one test function for {len(variables)} unknowns "
            f"{[str(v) for v in variables]}: give the point with one unknown per distinct condition")
    n = J.shape[0]
    shift = -1 if kind == "fold" else 1
    with mpmath.workdps(prec):
        def system(*v):
            g = g_fun(*v)
            return [g[k] for k in keep] + [mpmath.det(j_fun(*v) + shift * mpmath.eye(n))]

        sol = mpmath.findroot(system, start, tol=tol)
    sol = [sol] if len(variables) == 1 else list(sol)
    out = {param: sympy.Float(sol[-1], 15)}
    for k, s_ in enumerate(unknowns):
        out[s_.name] = sympy.Float(sol[k], 15)
    return out


def _distinct_nonzero(fun, at) -> list[int]:
    """Indices of the components of ``fun`` that neither vanish nor repeat another (at probe points near ``at``)."""
    rng = np.random.default_rng(0)
    probes = [np.asarray(at, dtype=float) * (1 + 0.01 * rng.standard_normal(len(at))) for _ in range(3)]
    values = np.array([[complex(v) for v in fun(*pr)] for pr in probes]).T
    keep = []
    for k, sig in enumerate(values):
        if np.all(np.abs(sig) < 1e-12):
            continue
        if any(np.allclose(sig, values[j], rtol=1e-10, atol=1e-14) for j in keep):
            continue
        keep.append(k)
    return keep
