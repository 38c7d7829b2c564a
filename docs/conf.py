"""Sphinx configuration: the API reference from the docstrings, the CLI reference from --help.

Built strictly (``make docs``; tests/test_docs.py): every warning is an error and every
cross-reference must resolve (``-W -n``), so a docstring that names something that does not
exist fails the build.
"""

from __future__ import annotations

from sphinx.ext.napoleon.docstring import NumpyDocstring

import hlhbayes

project = "hlhbayes"
author = "hlhbayes contributors"
release = version = hlhbayes.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
myst_heading_anchors = 2

# The reference documents this package; the libraries it names in signatures (numpy, pandas,
# xarray, PyMC, ...) are not cross-referenced (the build reads nothing from the network).
nitpick_ignore_regex = [
    ("py:.*", r"(np|numpy|pd|pandas|xr|xarray|pm|pymc|scipy|os|pathlib|collections|typing)(\..*)?"),
    ("py:class", r"(Path|Mapping|Sequence|Iterator|Callable|Any|FloatArray|NDArray|ArrayLike)"),
    ("py:class", r"(optional|array-like|default .*)"),
    # the records of the evidence base (pydantic models) are described in data/FORMAT.md
    ("py:class", r"hlhbayes\.evidence\.schema\.(StudyFile|Patient)"),
    # internal types that appear in signatures; ARCHITECTURE.md says where each lives
    ("py:class", r"(hlhbayes\.models\..*|hlhbayes\.evidence\.issues\.Issue|Issue)"),
    # modules the API's docstrings name; they are not part of the documented surface
    ("py:mod", r"hlhbayes\.support(\..*)?"),
]


def _attribute_docstring_as_prose(self) -> list[str]:
    """An attribute's or property's docstring, as written.

    Napoleon reads the first line of one as ``type: description``; here a colon in a first line
    is prose ("The convergence gate: ..."), and the types come from the annotations.
    """
    return self._consume_to_end()


NumpyDocstring._parse_attribute_docstring = _attribute_docstring_as_prose
