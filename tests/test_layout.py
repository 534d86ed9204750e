"""The package's shape: small modules and functions, no private names shared,
and the import paths of modules that moved still working."""

import ast
import importlib
import pathlib
import warnings

import pytest

import nengo_softlif
from nengo_softlif.moved import MOVED, new_name

PACKAGE = pathlib.Path(nengo_softlif.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))

#: Largest module (lines) and function (lines, docstring included).
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_modules_and_functions_are_small():
    too_long = []
    for path in MODULES:
        n_lines = path.read_text(encoding="utf-8").count("\n")
        if n_lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {n_lines} lines")
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(
                        f"{path.relative_to(PACKAGE)}:{node.name}: {length} lines"
                    )
    assert not too_long, too_long


def test_no_private_name_is_imported_from_another_module():
    shared = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.ImportFrom) or node.level:
                continue
            if not (node.module or "").startswith("nengo_softlif"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    shared.append(
                        f"{path.relative_to(PACKAGE)} imports {node.module}.{alias.name}"
                    )
    assert not shared, shared


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_import_paths_still_work(old):
    if "loihi" in old:
        pytest.importorskip("nengo_loihi")
    if old in ("nengo_softlif.dl_local",):
        pytest.importorskip("nengo_dl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(new_name(old))
    if not any(issubclass(w.category, DeprecationWarning) for w in caught):
        # imported earlier in this process: the alias is cached, no new warning
        assert old in importlib.sys.modules


def test_old_module_names_leave_the_packages_functions_alone():
    """``nengo_softlif.evaluate`` was a module; it is now the function, and
    importing the old module name does not replace the function."""
    import nengo_softlif  # noqa: PLC0415

    function = nengo_softlif.evaluate
    assert callable(function)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = importlib.import_module("nengo_softlif.evaluate")
        from nengo_softlif.evaluate import Protocol  # noqa: PLC0415
    assert module is importlib.import_module("nengo_softlif.evaluation.runner")
    assert nengo_softlif.evaluate is function
    assert Protocol is nengo_softlif.Protocol
    nengo_softlif.other = module  # other names are set as usual
    assert nengo_softlif.other is module
    del nengo_softlif.other


def test_old_names_resolve_to_their_new_modules():
    assert new_name("nengo_softlif.loihi.conversion") == (
        "nengo_softlif.backends.loihi.conversion"
    )
    assert new_name("nengo_softlif.neurons") == "nengo_softlif.neurons"
