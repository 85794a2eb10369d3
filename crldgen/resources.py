"""Files that ship with crldgen: the committed generated modules and the example TOML games.

In a source checkout they are the repository's ``generated/`` and ``examples/games/``
folders; an installed wheel carries them as ``crldgen/_generated`` and
``crldgen/_example_games`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from pathlib import Path

from .runtime.loader import repo_generated_dir

__all__ = ["example_game", "example_games_dir", "generated_dir"]


def generated_dir() -> Path:
    """Folder of the committed generated modules of the built-in games."""
    return repo_generated_dir()


def example_games_dir() -> Path:
    """Folder of the example games in TOML format (``rock_paper_scissors.toml``, ...)."""
    package = Path(__file__).resolve().parent
    installed = package / "_example_games"
    return installed if installed.is_dir() else package.parent / "examples" / "games"


def example_game(name: str) -> Path:
    """Path of the example game ``name`` (with or without ``.toml``)."""
    path = example_games_dir() / (name if name.endswith(".toml") else name + ".toml")
    if not path.is_file():
        known = sorted(p.stem for p in example_games_dir().glob("*.toml"))
        raise FileNotFoundError(f"no example game {name!r}; the examples are {known}")
    return path
