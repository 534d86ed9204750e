"""Build hook: ship ``nengo_softlif_startup.pth`` at the top of site-packages.

Python runs the ``import`` line of every ``.pth`` file in site-packages at
start-up; this one installs the Keras alias that nengo-dl 3.6 needs (see
``nengo_softlif_startup.py``), so that ``import nengo_dl`` works on its own.

It also checks the Python version first, with a message that says what to do
(``python setup.py --check-python`` does only that, for ``install.sh``).
Everything else about the package is in ``setup.cfg``.
"""

import os
import shutil
import sys

#: The Pythons that a tested stack exists for (constraints.txt), first and last.
PYTHONS = ((3, 10), (3, 13))


def check_python():
    """Exit with a message that says what to do on a Python without a tested stack."""
    first, last = (".".join(map(str, v)) for v in PYTHONS)
    if not PYTHONS[0] <= sys.version_info[:2] <= PYTHONS[1]:
        sys.exit(
            f"nengo-softlif supports Python {first} to {last}; this is Python "
            f"{sys.version.split()[0]} ({sys.executable}). nengo-dl 3.6 and "
            "TensorFlow have no tested release for it. Install Python "
            f"{last} (e.g. `sudo apt install python{last}-venv`, or "
            f"`pyenv install {last}`), then make the environment with it: "
            f"`rm -rf .venv && python{last} -m venv .venv`, and run the "
            "README's install command again."
        )
    return f">={first},<{PYTHONS[1][0]}.{PYTHONS[1][1] + 1}"


PYTHON_REQUIRES = check_python()
if sys.argv[1:] == ["--check-python"]:
    sys.exit(0)

from setuptools import setup  # noqa: E402  (after the check: 3.12+ may lack it)
from setuptools.command.build_py import build_py  # noqa: E402
from setuptools.command.editable_wheel import editable_wheel  # noqa: E402

PTH = "nengo_softlif_startup.pth"


class BuildPyWithStartup(build_py):
    """``build_py`` that also puts the start-up ``.pth`` file into the wheel."""

    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, PTH)
        ]


class EditableWheelWithStartup(editable_wheel):
    """``pip install -e``: the editable wheel gets the start-up ``.pth`` file too.

    setuptools writes every file of the unpacked wheel's folder into the wheel;
    its namespace step is the one hook that is handed that folder.
    """

    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        shutil.copy(PTH, os.path.join(installation_dir, PTH))


setup(
    python_requires=PYTHON_REQUIRES,
    cmdclass={
        "build_py": BuildPyWithStartup,
        "editable_wheel": EditableWheelWithStartup,
    },
)
