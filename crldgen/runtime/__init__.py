"""Run-time side: load generated modules and drive them (numba and importlib only, no sympy)."""

from .dynamics import Averages, Dynamics
from .loader import default_cache_dir, load_module, repo_generated_dir
from .ragged_dynamics import RaggedAverages, RaggedDynamics

__all__ = ["Averages", "Dynamics", "RaggedAverages", "RaggedDynamics", "default_cache_dir", "load_module",
           "repo_generated_dir"]
