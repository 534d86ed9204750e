"""The start-up hook installed with the package: ``import nengo_dl`` on its own."""

import subprocess
import sys

import pytest


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )


def test_import_nengo_dl_first_works_in_a_fresh_interpreter():
    pytest.importorskip("tensorflow")
    result = _run(
        "import sys, nengo_dl; "
        "print(nengo_dl.__version__, 'nengo_softlif' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    version, softlif_imported = result.stdout.split()
    assert version.startswith("3.6") and softlif_imported == "False"


def test_the_hook_imports_nothing_heavy():
    result = _run(
        "import sys; print(sorted(m for m in ('nengo', 'tensorflow', 'keras', "
        "'nengo_softlif') if m in sys.modules))"
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]"
    assert (
        "nengo_softlif_startup" in _run("import sys; print(list(sys.modules))").stdout
    )
