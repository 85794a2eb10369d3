"""Packaging: the wheel ships the generated modules, the example games, LICENSE and py.typed (issue 15)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def test_every_subpackage_is_listed_in_pyproject():
    """pyproject lists the packages explicitly (to map generated/ into the package): none may be missing."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "crldgen").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"


def test_resources_are_found_in_the_checkout():
    from crldgen import resources

    assert resources.generated_dir() == REPO / "generated"
    assert resources.example_game("rock_paper_scissors") == REPO / "examples" / "games" / "rock_paper_scissors.toml"
    with pytest.raises(FileNotFoundError, match="rock_paper_scissors"):
        resources.example_game("no_such_game")


QUICK_START = r"""
import os, sys
from pathlib import Path
import numpy as np
import crldgen
from crldgen.games import ecological_public_good

here = Path(crldgen.__file__).resolve().parent
assert Path(sys.prefix).resolve() in here.parents, (here, sys.prefix)
game = ecological_public_good(n_agents=2, f=1.2, c=5, m=-5, qc=0.2, qr=0.01)
model = crldgen.derive(game, learner="sarsa", prefactor=True)
dyn = model.compile(alpha=0.01, beta=100, gamma=0.75)
X = np.array([[[0.5, 0.5], [0.19, 0.81]], [[0.5, 0.5], [0.95, 0.05]]])
traj = dyn.trajectory(X, tmax=5000, tol=1e-5)
print(traj.steps, traj.converged)
print("module", Path(dyn.path).resolve())
from crldgen import resources
print("toml", resources.example_game("rock_paper_scissors"))
print("typed", (here / "py.typed").is_file())
"""


def _has_bdist_wheel() -> bool:
    """setuptools >= 70.1 builds wheels itself; older ones need the wheel package."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    import setuptools

    return tuple(int(x) for x in setuptools.__version__.split(".")[:2]) >= (70, 1)


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix), "platbase": str(prefix)}))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_installs_and_finds_the_shipped_modules(tmp_path):
    # build from a copy of the sources, so that the build leaves nothing in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("crldgen", "generated", "examples", "README.md", "LICENSE", "pyproject.toml"):
        from_, to = REPO / name, src / name
        if from_.is_dir():
            shutil.copytree(from_, to, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
        else:
            shutil.copy(from_, to)
    wheels = tmp_path / "wheels"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(src)]
    if importlib.util.find_spec("setuptools") is not None and _has_bdist_wheel():
        cmd.insert(4, "--no-build-isolation")  # offline and fast: build with this environment's setuptools
    subprocess.run(cmd, check=True, timeout=600)
    (wheel,) = wheels.glob("crldgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n for n in names if n.startswith("crldgen/_generated/") and n.endswith(".py"))
    committed = sorted(p.name for p in (REPO / "generated").glob("*.py"))
    assert [Path(n).name for n in shipped] == committed
    assert "crldgen/_example_games/rock_paper_scissors.toml" in names and "crldgen/py.typed" in names
    assert any(n.endswith(".dist-info/LICENSE") or "/licenses/LICENSE" in n for n in names)

    # a fresh venv that sees this environment's packages (numpy, numba, sympy, ...) but not crldgen
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    prefix = Path(subprocess.run([str(py), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    target = _site_packages(prefix)
    target.mkdir(parents=True, exist_ok=True)
    parents = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (target / "parent_env.pth").write_text("\n".join(parents) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
                    str(wheel)], check=True, timeout=600)

    run = tmp_path / "elsewhere"
    run.mkdir()
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CRLDGEN_CACHE", "XDG_CACHE_HOME")}
    env.update(CRLDGEN_CACHE=str(cache), MPLBACKEND="Agg")
    proc = subprocess.run([str(py), "-c", QUICK_START], cwd=run, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = dict(ln.split(" ", 1) for ln in proc.stdout.splitlines() if " " in ln)
    assert proc.stdout.splitlines()[0] == "234 True"
    module = Path(lines["module"])
    assert module.parent == (target / "crldgen" / "_generated").resolve(), module
    assert module.name in committed
    assert not cache.exists() or not list(cache.glob("*.py")), "the quick start regenerated a shipped module"
    assert Path(lines["toml"]).is_file() and lines["typed"] == "True"
