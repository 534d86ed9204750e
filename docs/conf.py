"""Sphinx configuration of the nengo-softlif documentation.

Build with ``bash .ci/docs`` (executes the notebooks first) or, for the pages
alone, ``sphinx-build -W -b html docs docs/_build/html``.

Before Sphinx reads the sources, this file writes (into folders that git
ignores, see ``docs/.gitignore``):

* ``docs/examples/*.ipynb``: the notebooks of ``examples/``, each replaced by its
  executed copy from ``docs/_build/executed/`` when that copy is newer; the
  notebooks are rendered by MyST-NB and never executed here;
* ``docs/_generated/cli-*.txt``: the ``--help`` text of every ``nengo-softlif``
  command, for :doc:`cli`;
* ``docs/_generated/api-loihi.rst``: the API of ``nengo_softlif.backends.loihi`` if
  nengo-loihi is installed (a note otherwise), and ``api-data.rst``, that of
  ``nengo_softlif.data``, for :doc:`api` (both packages re-export their
  modules' names);

"""

import importlib.util
import inspect
import json
import os
import pkgutil
import sys
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
EXECUTED = DOCS / "_build" / "executed"

# autodoc imports the package from the source tree, installed or not
sys.path.insert(0, str(ROOT))
# quiet TensorFlow's C++ start-up messages while autodoc imports nengo-dl
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import nengo_softlif  # noqa: E402  pylint: disable=wrong-import-position

# -- project -----------------------------------------------------------------------

project = "nengo-softlif"
author = "the nengo-softlif developers"
copyright = "2026, the nengo-softlif developers"  # pylint: disable=redefined-builtin
release = nengo_softlif.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]
# MathJax shipped with the HTML, so that equations render without a network
# (CI artifacts, local copies); without the package MathJax comes from its CDN
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

exclude_patterns = [
    "_build",
    "_generated",
    "**.ipynb_checkpoints",
]

# autodoc and numpydoc
autodoc_member_order = "bysource"
autodoc_typehints = "none"
# an override without a docstring gets none, not its nengo parent's (which can
# say the opposite, e.g. LIFRate.rates' "Always use LIFRate to determine rates")
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
default_role = "py:obj"
# `.evaluate` in a docstring matches both the module nengo_softlif.evaluation.runner and
# its function evaluate(); Sphinx links one of them, which is fine
suppress_warnings = ["ref.python"]

# MyST-NB: render the notebooks as they are (``.ci/docs`` executed them)
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"nengo-softlif {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Spiking deep networks of LIF neurons, trained as soft LIF "
    "rate networks in nengo-dl",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}

# -- generated sources ------------------------------------------------------------


NOT_EXECUTED = (
    "```{note}\nThis page shows the notebook without its outputs: it was not "
    "executed when this documentation was built. `bash .ci/docs` executes the "
    "notebooks and builds the pages with their outputs.\n```"
)


def _with_notice(text):
    """The notebook JSON with a first markdown cell saying it was not executed."""
    notebook = json.loads(text)
    cell = {
        "cell_type": "markdown",
        "id": "not-executed-notice",  # nbformat 4.5 cells need an id
        "metadata": {},
        "source": NOT_EXECUTED,
    }
    cells = notebook["cells"]
    # after the title cell, so that the page keeps its heading
    notebook["cells"] = cells[:1] + [cell] + cells[1:]
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _copy_notebooks():
    """Copy ``examples/*.ipynb`` (or their newer executed copies) into the docs."""
    dest = DOCS / "examples"
    dest.mkdir(exist_ok=True)
    wanted = set()
    for src in sorted((ROOT / "examples").glob("*.ipynb")):
        executed = EXECUTED / src.name
        use = executed
        if not executed.exists() or executed.stat().st_mtime < src.stat().st_mtime:
            use = src
        text = use.read_text(encoding="utf-8")
        if use == src:  # not executed: say so at the top of the page
            text = _with_notice(text)
        target = dest / src.name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        wanted.add(src.name)
        print(f"nengo-softlif docs: {src.name} from {use.relative_to(ROOT)}")
    for old in dest.glob("*.ipynb"):
        if old.name not in wanted:
            old.unlink()


def _write_cli_help():
    """The ``--help`` text of ``nengo-softlif`` and of each subcommand."""
    os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal width
    from nengo_softlif.experiments.cli import build_parser  # pylint: disable=C0415

    parser = build_parser()
    subparsers = next(
        a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"
    )
    texts = {"main": parser.format_help()}
    for name, sub in subparsers.choices.items():
        texts[name] = sub.format_help()
    for name, text in texts.items():
        _write_if_changed(GENERATED / f"cli-{name}.txt", text)


def _write_package_apis():
    """API pages of the subpackages; Loihi's only when nengo-loihi is installed."""
    if importlib.util.find_spec("nengo_loihi") is not None:
        text = _package_api("nengo_softlif.backends.loihi")
    else:
        text = (
            ".. note::\n\n   ``nengo_softlif.backends.loihi`` needs the optional nengo-loihi "
            'package (``pip install -e ".[loihi]"``), which was not installed when '
            "this page was built.\n"
        )
    _write_if_changed(GENERATED / "api-loihi.rst", text)
    _write_if_changed(GENERATED / "api-data.rst", _package_api("nengo_softlif.data"))
    _write_if_changed(GENERATED / "recipes.rst", _recipes_table())


def _package_api(package):
    """``automodule`` of a package whose ``__all__`` re-exports its modules' names.

    autodoc documents the re-exported functions and classes under the package's
    name (``nengo_softlif.backends.loihi.to_loihi``), but it looks for the ``#:`` comment
    of a constant in the package's own source only, so the re-exported constants
    are added with the comment from the module that defines them.
    """
    constants = _reexported_constants(package)
    text = f".. automodule:: {package}\n   :members:\n"
    if constants:
        text += f"   :exclude-members: {', '.join(constants)}\n"
    for name, comment in constants.items():
        body = "".join(f"   {line}".rstrip() + "\n" for line in comment)
        text += f"\n.. autodata:: {package}.{name}\n\n{body}"
    return text


def _reexported_constants(package):
    """Constants in ``package.__all__`` -> their ``#:`` comment in a submodule."""
    module = importlib.import_module(package)
    comments = {}
    for info in pkgutil.iter_modules(module.__path__, f"{package}."):
        docs = ModuleAnalyzer.for_module(info.name).find_attr_docs()
        for (scope, name), lines in docs.items():
            if not scope:
                comments.setdefault(name, lines)
    return {
        name: comments[name]
        for name in module.__all__
        if name in comments
        and not inspect.isclass(getattr(module, name))
        and not inspect.isroutine(getattr(module, name))
    }


def _recipes_table():
    """The training recipes, from the registry (so the docs say what the code does)."""
    from nengo_softlif.training.recipes import RECIPES  # pylint: disable=C0415

    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - recipe",
        "     - settings",
    ]
    for name, recipe in RECIPES.items():
        lines += [f"   * - ``{name}``", f"     - {recipe.description}"]
    return "\n".join(lines) + "\n"


def _write_if_changed(path, text):
    """Write ``text`` unless ``path`` already holds it (keeps Sphinx's cache valid)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


_write_cli_help()
_write_package_apis()
_copy_notebooks()


# -- references ----------------------------------------------------------------------

# Every reference to this package must resolve (warnings are errors in .ci/docs);
# names of other packages are not checked (no intersphinx: the docs build offline).
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(nengo|nengo_dl|nengo_loihi|numpy|np|scipy|tf|tensorflow|keras)(\..*)?",
    ),
    (
        r"py:.*",
        r"(matplotlib|dask|concurrent|urllib|pathlib|os|collections|typing)\..*",
    ),
    (r"py:.*", r"nengo_softlif\.data\.[a-z_]+"),  # documented as the data package
    (r"py:.*", r"(int|float|str|bool|dict|list|tuple|callable|object|None)"),
    (r"py:.*", r"(ndarray|array_like|array|sequence|iterable|optional|hashable)"),
]


def _resolve_reexported(app, env, node, contnode):
    """``nengo_softlif.to_spiking`` (a re-export) -> where it is documented."""
    import importlib as _importlib  # pylint: disable=C0415

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or not target.startswith("nengo_softlif."):
        return None
    module_name, _, name = target.rpartition(".")
    try:
        obj = getattr(_importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    domain = env.get_domain("py")
    home = getattr(obj, "__module__", None)
    if home and home != module_name:
        documented = f"{home}.{name}"
    else:  # data (a dict, a constant): the one documented object of that name
        found = [k for k in domain.objects if k.endswith(f".{name}") and k != target]
        if len(found) != 1:
            return None
        documented = found[0]
    node = node.deepcopy()
    node["reftarget"] = documented
    return domain.resolve_xref(
        env,
        node.get("refdoc"),
        app.builder,
        node["reftype"],
        node["reftarget"],
        node,
        contnode,
    )


def setup(app):
    app.connect("missing-reference", _resolve_reexported)
