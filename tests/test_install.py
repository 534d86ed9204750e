"""Installing: the Python check of setup.py and the constraints of the two stacks."""

import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _check_python(version_info):
    code = (
        f"import sys; sys.version_info = {tuple(version_info)!r}; "
        "sys.argv = ['setup.py', '--check-python']; "
        "exec(compile(open('setup.py').read(), 'setup.py', 'exec'))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("version", [(3, 9, 18), (3, 14, 0)])
def test_other_pythons_are_told_what_to_do(version):
    result = _check_python(version)
    assert result.returncode != 0
    assert "nengo-softlif supports Python 3.10 to 3.13" in result.stderr
    assert "python3.13 -m venv .venv" in result.stderr
    assert "install command again" in result.stderr


@pytest.mark.parametrize("version", [(3, 10, 0), (3, 11, 7), (3, 13, 1)])
def test_supported_pythons_pass_the_check(version):
    result = _check_python(version)
    assert result.returncode == 0, result.stderr


def _pins(name):
    """{package: (version, marker)} of one constraints file."""
    pins = {}
    for line in (ROOT / "constraints" / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([\w.-]+)==([\w.]+); (python_version .+)", line)
            assert match, f"constraints/{name}: {line!r} is not 'name==version; marker'"
            pins[match[1].lower()] = (match[2], match[3])
    return pins


def test_each_stack_pins_for_its_own_pythons():
    classic, newest = _pins("classic.txt"), _pins("newest.txt")
    assert {marker for _, marker in classic.values()} == {'python_version < "3.12"'}
    assert {marker for _, marker in newest.values()} == {'python_version >= "3.12"'}
    for stack in (classic, newest):
        assert {"tensorflow", "numpy", "nengo", "nengo-dl", "nengo-loihi"} <= set(stack)
    assert "tf-keras" in newest
    assert (
        newest["tf-keras"][0].split(".")[:2] == newest["tensorflow"][0].split(".")[:2]
    )
    includes = (ROOT / "constraints.txt").read_text().split()
    assert (
        "constraints/classic.txt" in includes and "constraints/newest.txt" in includes
    )
