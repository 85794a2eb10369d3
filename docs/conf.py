"""Sphinx configuration of the crldgen API reference (``python -m sphinx -W -b html docs docs/_build``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crldgen  # noqa: E402

project = "crldgen"
author = "the crldgen developers"
release = version = crldgen.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "sphinx.ext.viewcode",
              "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build", "figures"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# result classes document their fields like parameters
napoleon_custom_sections = [("Fields", "params_style"), ("Attributes", "params_style")]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
# cross-references to third-party types are not resolved (no intersphinx: no network in CI)
nitpicky = False
html_theme = "alabaster"
# type fields such as "array (N, Q, M)" would otherwise try to link "Q" to every attribute named Q
suppress_warnings = ["myst.header", "ref.python"]


def _escape_bars(app, what, name, obj, options, lines):
    """crldgen's docstrings write ``|x|`` for absolute values and norms, never rST substitutions:
    escape the bars outside inline literals so that docutils reads them as text."""
    import re

    literal = re.compile(r"(``.*?``|`[^`]*`)")
    for k, line in enumerate(lines):
        parts = literal.split(line)
        lines[k] = "".join(p if literal.fullmatch(p) else p.replace("|", "\\|") for p in parts)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_bars)
