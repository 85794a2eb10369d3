"""The game-independent engine (crldgen.runtime.engine) against the generated module and plain numpy.

The engine serves a new game's first calls while its generated module compiles; its
numbers must be those of the module (to ~1e-12) and of crld-math.md evaluated plainly
(tests/reference.py).
"""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest

import crldgen
import reference as ref
from crldgen import iterate
from crldgen.errors import CacheError
from crldgen.runtime import engine as E
from crldgen.runtime import lanes, warm
from crldgen.runtime.engine import EngineModule

GAMES = [
    ("ecopg2", functools.partial(crldgen.games.ecological_public_good, 2), "sarsa"),
    ("ecopg2-ac", functools.partial(crldgen.games.ecological_public_good, 2), "actor_critic"),
    ("ecopg3", functools.partial(crldgen.games.ecological_public_good, 3, qc=[0.2, 0.3, 0.25]), "sarsa"),
    ("risk_reward", crldgen.games.risk_reward, "sarsa"),
    ("social_dilemma3", functools.partial(crldgen.games.social_dilemma), "actor_critic"),
]


@pytest.fixture(scope="module", params=GAMES, ids=[g[0] for g in GAMES])
def pair(request, compiled):
    """(engine-served module, compiled Dynamics, game) for one game."""
    _, factory, learner = request.param
    dyn = compiled(factory, learner, True)
    if isinstance(dyn.module, EngineModule):  # the session's first compile of this game: let it finish
        assert dyn.module.wait_compiled(), dyn.module._error
        real = dyn.module._module
    else:
        real = dyn.module
    assert not isinstance(real, EngineModule) and real.strategy_step.py_func.__module__ == real.__name__
    game = factory()
    served = EngineModule(real, E.numeric_tensors(game, dyn.param_names), quiet=True, label="test")
    served.wait_compiled()  # the engine kernels stay reachable through the _engine_* methods
    dyn = crldgen.Dynamics(real, **game.params)  # calls go to the generated module's own kernels
    return served, dyn, game


def _args(dyn, rng):
    X = dyn.random_strategy(rng).ravel()
    a, b, g, th = dyn.params(alpha=0.07, beta=[3.0] * dyn.n_agents, gamma=0.6)
    th = th * (1 + 0.1 * rng.random(th.size))  # other parameter values than the defaults
    return X, a, b, g, th


def test_engine_matches_module_and_reference(pair):
    served, dyn, game = pair
    rng = np.random.default_rng(5)
    N, Z, M = dyn.n_agents, dyn.n_states, dyn.n_actions
    for _ in range(3):
        X, a, b, g, th = _args(dyn, rng)
        num = game.numeric(**dict(zip(dyn.param_names, th)))
        # averages and values
        outs_e = [np.empty(n) for n in (Z * Z, N * Z, N * Z * M * Z, N * Z * M)]
        outs_m = [np.empty(n) for n in (Z * Z, N * Z, N * Z * M * Z, N * Z * M)]
        served._engine_averages(X, th, *outs_e)
        dyn.module.averages(X, th, *outs_m)
        for e, m in zip(outs_e, outs_m):
            np.testing.assert_allclose(e, m, rtol=1e-12, atol=1e-13)
        Xa = X.reshape(N, Z, M)
        np.testing.assert_allclose(outs_e[0].reshape(Z, Z), ref.Tss(num["T"], Xa), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(outs_e[3].reshape(N, Z, M), ref.Risa(num["T"], num["R"], Xa), rtol=1e-12,
                                   atol=1e-13)
        Ve, Qe, Vm, Qm = np.empty(N * Z), np.empty(N * Z * M), np.empty(N * Z), np.empty(N * Z * M)
        served._engine_values(X, th, a, b, g, Ve, Qe)
        dyn.module.values(X, th, a, b, g, Vm, Qm)
        np.testing.assert_allclose(Ve, Vm, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(Qe, Qm, rtol=1e-12, atol=1e-12)
        # TD error, steps (both directions), logit step
        te, tm = np.empty(N * Z * M), np.empty(N * Z * M)
        served._engine_tderror(X, th, a, b, g, te)
        dyn.module.tderror(X, th, a, b, g, tm)
        np.testing.assert_allclose(te, tm, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(te.reshape(N, Z, M), ref.td_error(num["T"], num["R"], Xa, b, g, True, dyn.learner),
                                   rtol=1e-10, atol=1e-10)
        for direction in (1.0, -1.0):
            se, sm = np.empty(N * Z * M), np.empty(N * Z * M)
            served._engine_strategy_step(X, th, a, b, g, direction, se)
            dyn.module.strategy_step(X, th, a, b, g, direction, sm)
            np.testing.assert_allclose(se, sm, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(se.reshape(N, Z, M),
                                   ref.strategy_step(num["T"], num["R"], Xa, a, b, g, True, dyn.learner, reverse=True),
                                   rtol=1e-10, atol=1e-12)
        y = dyn.to_logit(Xa).ravel()
        ye, ym = np.empty(y.size), np.empty(y.size)
        served._engine_logit_step(X, y, th, a, b, g, ye)
        dyn.module.logit_step(X, y, th, a, b, g, ym)
        np.testing.assert_allclose(ye, ym, rtol=1e-12, atol=1e-12)
        pe, pm = np.empty(Z), np.empty(Z)
        assert served._engine_stationary(X, th, pe) == dyn.module.stationary(X, th, pm)
        np.testing.assert_allclose(pe, pm, rtol=1e-12, atol=1e-13)


def test_engine_trajectory_matches_module_loop(pair):
    served, dyn, _ = pair
    rng = np.random.default_rng(11)
    X, a, b, g, th = _args(dyn, rng)
    y = dyn.to_logit(X.reshape(dyn.shape)).ravel()
    nx, nf = X.size, y.size
    for tmax, tol, every, direction in ((40, 0.0, 1, 1.0), (500, 1e-6, 3, 1.0), (7, 0.0, 2, -1.0), (30, 0.0, 0, 1.0)):
        outs = []
        for run in (served._engine_trajectory, dyn.module.trajectory):
            rec, xo, yo = np.zeros((tmax + 1, nx)), np.empty(nx), np.empty(nf)
            res = run(X, y, 0, th, a, b, g, tmax, tol, direction, every, rec, xo, yo)
            outs.append((tuple(res), rec, xo, yo))
        (r1, rec1, x1, y1), (r2, rec2, x2, y2) = outs
        assert r1 == r2
        np.testing.assert_allclose(rec1, rec2, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(x1, x2, rtol=1e-11, atol=1e-13)


def test_new_game_is_served_by_the_engine_then_by_its_module(tmp_path):
    """crldgen.compile of a new game: engine first, module after the background compile, same numbers."""
    game = crldgen.games.risk_reward(pc=0.3)
    game = crldgen.Game(game.T, game.R, params=game.params, name="engine_new", states=game.states)
    dyn = crldgen.compile(game, cache_dir=tmp_path, quiet=True)
    assert isinstance(dyn.module, EngineModule)
    X = dyn.random_strategy(1)
    first = dyn.trajectory(X, 50).X
    step = dyn.step(X, pc=0.1)
    assert dyn.module.wait_compiled(), dyn.module._error
    assert dyn.module.trajectory is dyn.module._module.trajectory  # the module's own kernel took over
    np.testing.assert_allclose(dyn.trajectory(X, 50).X, first, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dyn.step(X, pc=0.1), step, rtol=1e-12, atol=1e-14)
    again = crldgen.compile(game, cache_dir=tmp_path, quiet=True)
    assert again.module is dyn.module  # one module object per process
    J = dyn.jacobian(X)  # never served by the engine: the module's kernel
    assert J.shape == (dyn.n_free, dyn.n_free)


def test_compile_helper_compiles_into_the_cache(tmp_path, monkeypatch):
    """A new game's kernels are shared with the helper process: each compiled in one process, the others loaded."""
    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    game = crldgen.games.risk_reward(pc=0.35)
    game = crldgen.Game(game.T, game.R, params=game.params, name="engine_helper", states=game.states)
    dyn = crldgen.compile(game, cache_dir=tmp_path, quiet=True)
    assert isinstance(dyn.module, EngineModule)
    assert dyn.module.wait_compiled(), dyn.module._error
    assert dyn.module.compile_times["helper"] is True
    real = dyn.module._module
    loaded = {}
    for name in warm.HELPER_KERNELS:  # each of the helper's kernels compiled in one process only
        if name == "lanes_step":  # a numba.cfunc: compiled or loaded once per process
            step = lanes._steps[real.logit_step_lanes][0]
            loaded[name] = step.cache_hits == 1
            continue
        kernel = getattr(real, name)
        assert len(kernel.signatures) == 1, name
        hits, misses = sum(kernel._cache_hits.values()), sum(kernel._cache_misses.values())
        assert (hits, misses) in ((1, 0), (0, 1)), (name, hits, misses)  # loaded (the helper's) or compiled here
        loaded[name] = hits == 1
    # which ones the helper finished first depends on the machine's load: the helper itself is
    # checked in test_helper_process_fills_numba_cache
    X = np.stack([dyn.random_strategy(k).ravel() for k in range(9)]).reshape((9,) + dyn.shape)
    batch = dyn.trajectories(X, 40, every=1)  # 9 members: the helper's lanes kernel
    for b in (0, 8):
        np.testing.assert_array_equal(batch[b].X, dyn.trajectory(X[b], 40).X)
    J = dyn.jacobian(X[0])
    h = 1e-6
    y = dyn.to_logit(X[0]).ravel()
    for c in range(dyn.n_free):  # the helper's Jacobian against central differences of the step
        e = np.zeros_like(y)
        e[c] = h
        up = dyn.to_logit(dyn.step(dyn.from_logit((y + e).reshape(dyn.shape[:2] + (-1,))))).ravel()
        dn = dyn.to_logit(dyn.step(dyn.from_logit((y - e).reshape(dyn.shape[:2] + (-1,))))).ravel()
        np.testing.assert_allclose(J[:, c], (up - dn) / (2 * h), atol=1e-6)


def test_helper_process_fills_numba_cache(tmp_path, monkeypatch):
    """The helper process: what it claims ends up in numba's cache, marked done; this process loads it."""
    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    game = crldgen.games.risk_reward(pc=0.45)
    game = crldgen.Game(game.T, game.R, params=game.params, name="engine_helper_direct", states=game.states)
    dyn = crldgen.compile(game, cache_dir=tmp_path, quiet=True, engine=False)  # nothing compiled yet
    module = dyn.module
    helper = warm.Helper(module.__file__, module.KEY, ("jacobian", "stationary"), steal=("values",))
    assert warm.claim(helper.claims, "stationary")  # taken here first: the helper leaves it
    ok, why = helper.wait(600)
    assert ok, why
    assert warm.is_done(helper.claims, "jacobian") and warm.is_done(helper.claims, "values")
    assert not warm.is_done(helper.claims, "stationary")
    helper.close()
    calls = warm.warm_calls(module)
    for name in ("jacobian", "values"):  # compiled by the helper: loaded from the cache here
        calls[name]()
        kernel = getattr(module, name)
        assert (sum(kernel._cache_hits.values()), sum(kernel._cache_misses.values())) == (1, 0), name
    calls["stationary"]()
    assert sum(module.stationary._cache_misses.values()) == 1  # nobody compiled it: compiled here


def test_compile_helper_refuses_a_foreign_key_and_the_caller_compiles(tmp_path, monkeypatch):
    """A helper asked for the wrong key loads nothing (the loader's check); the caller compiles instead."""
    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    game = crldgen.games.risk_reward(pc=0.4)
    game = crldgen.Game(game.T, game.R, params=game.params, name="engine_helper_bad", states=game.states)
    dyn = crldgen.compile(game, cache_dir=tmp_path, quiet=True, engine=False)
    module = dyn.module
    wrong = types.SimpleNamespace(**{**vars(module), "KEY": "0" * len(module.KEY)})
    said = []
    times = warm.compile_module(wrong, report=said.append)
    assert times["helper"] is False
    assert len(said) == 1 and "compile helper failed" in said[0] and "exit code" in said[0], said
    assert lanes.has_lanes(module) and len(module.jacobian.signatures) == 1
    with pytest.raises(CacheError, match="key"):  # what the helper process met
        warm.main([module.__file__, "0" * len(module.KEY), "jacobian"])


def _generated_copy(tmp_path, name):
    """(source text, key, target path) of a new small game's module, generated into tmp_path/src (not imported)."""
    from crldgen.compiler import generate
    from crldgen.symbolic.model import derive

    game = crldgen.games.risk_reward(pc=0.42)
    game = crldgen.Game(game.T, game.R, params=game.params, name=name, states=game.states)
    src = generate(derive(game, crldgen.learners.as_learner("sarsa")), tmp_path / "src")
    key = crldgen.runtime.loader.read_header(src)["key"]
    return src.read_text(), key, tmp_path / "cache" / src.name


def test_early_helper_waits_for_the_module_file(tmp_path, monkeypatch):
    """A helper started before its module is written starts numba, skips a stale file, waits for the real one."""
    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    text, key, path = _generated_copy(tmp_path, "early_helper")
    path.parent.mkdir()
    helper = warm.Helper(str(path), key, ("values",), wait=True)
    path.write_text(text.replace(key, "0" * len(key)))  # a stale file with another key: not taken
    assert helper.running()
    crldgen.codegen.writer.write_atomic(path, text)  # the module, written atomically as the compiler does
    ok, why = helper.wait(600)
    assert ok, why
    assert warm.is_done(helper.claims, "values")
    helper.close()
    module = crldgen.runtime.loader.load_module(path, key)
    warm.warm_calls(module)["values"]()  # compiled by the helper: loaded from numba's cache here
    assert (sum(module.values._cache_hits.values()), sum(module.values._cache_misses.values())) == (1, 0)


def test_discarded_early_helper_ends_without_compiling(tmp_path, monkeypatch):
    """discard_early (the derivation failed, or the module's kernels were cached): the waiting helper ends."""
    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    path = tmp_path / "never_written.py"
    warm.spawn_early(path, "f" * 64)
    helper = warm._early[str(path.resolve())]
    warm.discard_early(path)
    assert str(path.resolve()) not in warm._early
    assert helper.process.wait(120) == 0  # it noticed its claims folder was gone
    assert not path.exists()


def test_failed_derivation_discards_the_early_helper(tmp_path, monkeypatch):
    """An error while deriving a new game's module stops the helper started for it."""
    import crldgen.symbolic.model as model

    monkeypatch.setenv("CRLDGEN_COMPILE_HELPER", "1")
    started = []
    real_spawn = warm.spawn_early

    def spawn(path, key):
        real_spawn(path, key)
        started.append(warm._early.get(str(path.resolve())))

    def derive(game, learner):
        raise RuntimeError("derivation failed")

    monkeypatch.setattr(warm, "spawn_early", spawn)
    monkeypatch.setattr(model, "derive", derive)
    game = crldgen.games.risk_reward(pc=0.33)
    game = crldgen.Game(game.T, game.R, params=game.params, name="early_fail", states=game.states)
    with pytest.raises(RuntimeError, match="derivation failed"):
        crldgen.compile(game, cache_dir=tmp_path, quiet=True)
    assert len(started) == 1 and started[0] is not None
    assert started[0].process.wait(120) == 0
    assert not warm._early


def test_claims_are_exclusive(tmp_path):
    assert warm.claim(str(tmp_path), "lanes_step") and not warm.claim(str(tmp_path), "lanes_step")
    assert warm.claim(None, "lanes_step")  # no folder: nothing shared, always ours
    assert not warm.claim(str(tmp_path / "gone"), "jacobian")  # the caller finished and removed the folder


def test_engine_can_be_turned_off(tmp_path, monkeypatch):
    game = crldgen.games.risk_reward()
    game = crldgen.Game(game.T, game.R, params=game.params, name="engine_off", states=game.states)
    monkeypatch.setenv("CRLDGEN_ENGINE", "0")
    dyn = crldgen.compile(game, cache_dir=tmp_path, quiet=True)
    assert not isinstance(dyn.module, EngineModule)
    assert not isinstance(crldgen.compile(game, cache_dir=tmp_path / "b", engine=False, quiet=True).module,
                          EngineModule)


def test_engine_batch_and_sweep_match_module(pair):
    served, dyn, _ = pair
    rng = np.random.default_rng(3)
    B = 3
    Xs = np.stack([dyn.random_strategy(rng).ravel() for _ in range(B)])
    Ys = np.stack([dyn.to_logit(x.reshape(dyn.shape)).ravel() for x in Xs])
    a, b, g, th = dyn.params(alpha=0.1, beta=5.0, gamma=0.7)
    Th = np.stack([th * (1 + 0.05 * k) for k in range(B)])
    A, Bt, G = np.tile(a, (B, 1)), np.tile(b, (B, 1)), np.tile(g, (B, 1))
    nx, nf = Xs.shape[1], Ys.shape[1]
    outs = []
    for trajectory in (served._engine_trajectory, dyn.module.trajectory):  # crldgen.iterate's batch driver
        res = (np.zeros((B, 6, nx)), np.empty((B, nx)), np.empty((B, nf)), np.empty(B, np.int64),
               np.empty(B, np.bool_), np.empty(B, np.int64), np.empty(B, np.int64))
        iterate.run_tasks(iterate._members, B, 1, 2, (trajectory, Xs, Ys, np.zeros(B, np.int64), Th, A, Bt, G, 30,
                                                    0.0, 1.0, 5) + res)
        outs.append(res)
    for e, m in zip(*outs):
        np.testing.assert_allclose(e, m, rtol=1e-11, atol=1e-13)
    outs = []
    for trajectory in (served._engine_trajectory, dyn.module.trajectory):  # and its sweep driver
        res = (np.empty((B, nx)), np.empty((B, nf)), np.empty(B, np.int64), np.empty(B, np.bool_),
               np.empty(B, np.int64))
        done = iterate.sequential_sweep(trajectory, Xs[0], Ys[0], Th, A, Bt, G, 40, 1e-9, 1.0, True, *res)
        outs.append((done,) + res)
    assert outs[0][0] == outs[1][0] == B
    for e, m in zip(outs[0][1:], outs[1][1:]):
        np.testing.assert_allclose(e, m, rtol=1e-11, atol=1e-13)
