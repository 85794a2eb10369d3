"""Run-time side: load generated modules and drive them (numba and importlib only, no sympy)."""

from .dynamics import Averages, Dynamics
from .loader import default_cache_dir, load_module, repo_generated_dir

__all__ = ["Averages", "Dynamics", "default_cache_dir", "load_module", "repo_generated_dir"]
