"""Build hook: ship ``nengo_softlif_startup.pth`` at the top of site-packages.

Python runs the ``import`` line of every ``.pth`` file in site-packages at
start-up; this one installs the Keras alias that nengo-dl 3.6 needs (see
``nengo_softlif_startup.py``), so that ``import nengo_dl`` works on its own.
Everything else about the package is in ``setup.cfg``.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

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
    cmdclass={
        "build_py": BuildPyWithStartup,
        "editable_wheel": EditableWheelWithStartup,
    }
)
