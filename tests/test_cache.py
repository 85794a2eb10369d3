"""The module cache: keys, file names, header checks, atomic writes, the import registry.

A file that does not match its expected key and checksum is regenerated, never executed:
the planted files below would write a marker file if they were ever imported. These tests
use a tiny game and never call a kernel except where noted, so numba compiles next to nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy

import crldgen
from crldgen.codegen import cache_key, generate_source, module_name, write_atomic
from crldgen.codegen.generator import header
from crldgen.compiler import generate, module_path
from crldgen.errors import CacheError
from crldgen.runtime.loader import header_problem, load_module, loaded_modules

ROOT = Path(__file__).resolve().parents[1]


def tiny_game(reward=1.0, name="tiny", actions=("a", "b"), default=0.5, pname="u"):
    """One agent, one state, two actions; reward of action 0 is the parameter ``u``."""
    u = sympy.Symbol(pname, real=True)
    T = np.ones((1, 2, 1), dtype=object)
    R = np.array([[[[u], [reward]]]], dtype=object)
    return crldgen.Game(T, R, params={u: default}, actions=actions, name=name)


def key(game, learner="sarsa", prefactor=True) -> str:
    return cache_key(crldgen.derive(game, learner, prefactor))


# ------------------------------------------------------------------------------ keys
def test_same_game_gives_same_key_and_file_name_in_two_processes():
    code = """
        import json, sys
        import crldgen
        from crldgen.codegen import cache_key, module_name
        from _randgames import param_game
        out = {}
        for label, game in (("ecopg2", crldgen.games.ecological_public_good(2)), ("rand", param_game(2, 2, 2))):
            model = crldgen.derive(game, "actor_critic", False)
            k = cache_key(model)
            out[label] = [k, module_name(model, k)]
        print(json.dumps(out))
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    a, b = (json.loads(out) for out, _ in outs)
    assert a == b
    here = crldgen.derive(crldgen.games.ecological_public_good(2), "actor_critic", False)
    from crldgen.codegen.fingerprint import source_fingerprint

    if source_fingerprint() == source_fingerprint.__wrapped__():  # sources not edited during this session
        assert a["ecopg2"] == [cache_key(here), module_name(here)]
    assert a["ecopg2"][1].startswith("ecopg2_actor_critic_") and a["ecopg2"][0].startswith(a["ecopg2"][1][-12:])


def test_every_change_that_changes_the_module_changes_the_key():
    base = key(tiny_game())
    variants = {
        "tensor entry": key(tiny_game(reward=2.0)),
        "action label": key(tiny_game(actions=("x", "y"))),
        "game name": key(tiny_game(name="other")),
        "parameter name": key(tiny_game(pname="v")),
        "learner": key(tiny_game(), "actor_critic"),
        "prefactor": key(tiny_game(), "sarsa", False),
    }
    assert base not in variants.values()
    assert len(set(variants.values())) == len(variants)


def test_parameter_defaults_are_not_part_of_the_key():
    """Parameters are run-time arguments: the module text does not depend on their defaults."""
    a, b = tiny_game(default=0.5), tiny_game(default=-3.0)
    ma, mb = crldgen.derive(a), crldgen.derive(b)
    assert cache_key(ma) == cache_key(mb)
    assert generate_source(ma) == generate_source(mb)


def test_defaults_travel_with_the_dynamics_object(tmp_path):
    first = crldgen.compile(tiny_game(default=0.5), cache_dir=tmp_path)
    second = crldgen.compile(tiny_game(default=-3.0), cache_dir=tmp_path)
    assert second.module is first.module and second.path == first.path
    assert first.defaults["u"] == 0.5 and second.defaults["u"] == -3.0
    third = crldgen.compile(tiny_game(default=-3.0), cache_dir=tmp_path, u=7.0)
    assert third.defaults["u"] == 7.0
    assert len(list(tmp_path.glob("*.py"))) == 1


# ------------------------------------------------------------- untrusted files
MARKER_BODY = """
from pathlib import Path
Path({marker!r}).write_text("executed")
raise RuntimeError("this planted module must never be imported")
"""


def _plant(path: Path, marker: Path, *, key_in_header: str | None, valid_checksum: bool,
           body_key: str | None = None) -> None:
    body = MARKER_BODY.format(marker=str(marker))
    if body_key is not None:
        body = f"\nKEY = {body_key!r}\n" + body
    if key_in_header is None:
        text = body
    else:
        text = header(key_in_header, body if valid_checksum else body + "# tampered\n") + body
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("kind", ["tampered body", "stale header", "foreign file", "header/body key mismatch"])
def test_untrusted_file_is_regenerated_never_executed(tmp_path, kind, monkeypatch):
    game = tiny_game(name=f"plant_{kind.split()[0]}")
    model = crldgen.derive(game)
    k = cache_key(model)
    path = module_path(model, tmp_path / "cache")
    marker = tmp_path / "EXECUTED"
    if kind == "tampered body":  # right key, body edited after the checksum was taken
        _plant(path, marker, key_in_header=k, valid_checksum=False, body_key=k)
    elif kind == "stale header":  # same file name (12 hex digits) but another full key, self-consistent
        _plant(path, marker, key_in_header=k[:12] + "0" * 52, valid_checksum=True, body_key=k[:12] + "0" * 52)
    elif kind == "foreign file":
        _plant(path, marker, key_in_header=None, valid_checksum=False)
    else:  # header with the right key and checksum, but the body claims another key
        _plant(path, marker, key_in_header=k, valid_checksum=True, body_key="f" * 64)
    assert header_problem(path, k) is not None
    with pytest.raises(CacheError, match="refusing to import"):
        load_module(path, k)
    # the warning is recorded at warnings.warn itself: pytest.warns swaps the process-wide warning state, which
    # a background compile thread of an earlier test (numba enters warnings.catch_warnings while compiling)
    # can restore under it, losing the warning
    seen = []
    warn = warnings.warn
    monkeypatch.setattr(warnings, "warn", lambda message, *a, **k: (seen.append(str(message)), warn(message, *a, **k)))
    dyn = crldgen.compile(game, cache_dir=tmp_path / "cache")
    monkeypatch.undo()
    assert any(m.startswith(f"regenerating {path}") for m in seen), seen
    if hasattr(dyn.module, "wait_compiled"):  # no background compile left running for the next test
        assert dyn.module.wait_compiled()
    assert not marker.exists()
    assert dyn.path == path and header_problem(path, k) is None
    assert dyn.module.KEY == k
    assert path.read_text() == generate_source(model, k)


def test_load_module_without_key_still_checks_the_header(tmp_path):
    marker = tmp_path / "EXECUTED"
    path = tmp_path / "x.py"
    _plant(path, marker, key_in_header="a" * 64, valid_checksum=False, body_key="a" * 64)
    with pytest.raises(CacheError, match="checksum"):
        load_module(path)
    with pytest.raises(CacheError, match="does not exist"):
        load_module(tmp_path / "missing.py")
    assert not marker.exists()


# ------------------------------------------------------------------ writing
def test_unchanged_bytes_are_not_rewritten(tmp_path):
    model = crldgen.derive(tiny_game(name="rewrite"))
    path = generate(model, tmp_path)
    stat = path.stat()
    assert generate(model, tmp_path) == path
    assert write_atomic(path, path.read_text()) is False
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino
    from crldgen.codegen.writer import _FILE_MODE

    assert path.stat().st_mode & 0o777 == _FILE_MODE  # like open(): 0o666 minus the umask, not mkstemp's 0o600


def test_concurrent_writers_in_threads(tmp_path):
    text = generate_source(crldgen.derive(tiny_game(name="threads")))
    path = tmp_path / "m.py"
    errors = []

    def worker():
        try:
            for _ in range(20):
                write_atomic(path, text)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert path.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary files left behind


def test_two_processes_generating_the_same_module_at_once(tmp_path):
    """Both succeed, both import a valid file and run a kernel (numba's cache written concurrently too)."""
    code = """
        import sys
        import numpy as np
        import sympy
        import crldgen
        u = sympy.Symbol("u", real=True)
        T = np.ones((1, 2, 1), dtype=object)
        R = np.array([[[[u], [1.0]]]], dtype=object)
        game = crldgen.Game(T, R, params={u: 0.5}, name="race")
        dyn = crldgen.compile(game, cache_dir=sys.argv[1])
        td = dyn.tderror(dyn.uniform_strategy(), alpha=0.5, beta=2.0, gamma=0.0)
        print(dyn.path, td[0, 0, 0])
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT)) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    (path_a, x_a), (path_b, x_b) = (o.split() for o, _ in outs)
    assert path_a == path_b and x_a == x_b
    # delta = beta Q - ln X with Q = (1 - gamma) R = (0.5, 1.0) at gamma = 0
    assert float(x_a) == pytest.approx(2.0 * 0.5 - np.log(0.5), rel=1e-12)
    assert header_problem(Path(path_a), None) is None
    assert [p.name for p in tmp_path.glob("*.py")] == [Path(path_a).name]
    assert not list(tmp_path.glob(".*.tmp"))


def test_unwritable_cache_dir_raises_cache_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match="cache_dir=|CRLDGEN_CACHE") as info:
        crldgen.compile(tiny_game(name="readonly"), cache_dir=blocker / "sub")
    assert "a_file" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)


def test_read_only_cache_dir_raises_cache_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who can write to a read-only folder (root); see the a_file test above")
        with pytest.raises(CacheError, match="cannot write"):
            crldgen.compile(tiny_game(name="readonly2"), cache_dir=folder)
    finally:
        folder.chmod(0o700)


# ------------------------------------------------------------------ registry
def test_module_is_imported_once_per_process(tmp_path):
    game = tiny_game(name="registry")
    a = crldgen.compile(game, cache_dir=tmp_path)
    b = crldgen.compile(game, "sarsa", True, cache_dir=tmp_path, alpha=0.5)
    assert a.module is b.module
    assert load_module(a.path) is a.module
    assert load_module(a.path, a.module.KEY) is a.module
    assert loaded_modules()[str(Path(a.path).resolve())] is a.module
    assert sum(1 for name in sys.modules if name.startswith(f"crldgen_generated_{a.path.stem}")) == 1


def test_generate_is_safe_to_call_twice_and_compile_uses_the_written_file(tmp_path):
    model = crldgen.derive(tiny_game(name="twice"))
    p1 = generate(model, tmp_path)
    p2 = generate(model, tmp_path)
    assert p1 == p2 == module_path(model, tmp_path)
    dyn = model.compile(cache_dir=tmp_path)
    assert dyn.path == p1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to regenerate
        crldgen.compile(tiny_game(name="twice"), cache_dir=tmp_path)
