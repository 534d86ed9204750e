"""Start-up hook of nengo-softlif: lets ``import nengo_dl`` work on Keras 2.13-2.15.

Keras 2.13 moved ``keras.engine`` to ``keras.src.engine`` and dropped
``BatchNormalizationV1/V2`` from ``keras.layers``; nengo-dl 3.6 imports both from
their old places. :func:`install_keras_aliases` puts an import finder in place
that serves the old names; it imports nothing (not Keras, not TensorFlow) until
someone imports ``keras.engine``, so it costs nothing to install.

The ``nengo_softlif_startup.pth`` file installed with nengo-softlif calls
:func:`install` at every interpreter start-up, so a script may ``import nengo_dl``
first; ``import nengo_softlif`` installs it too (for environments that skip .pth
files, e.g. ``python -S``). The reasons for the pinned stack are in
``nengo_softlif/compat.py``. This module uses the standard library only.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install", "install_keras_aliases"]

#: Keras modules that nengo-dl 3.6 imports under their pre-2.13 names.
_KERAS_ALIASES = {"keras.engine": "keras.src.engine"}


class _KerasAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``keras.engine[.x]`` as ``keras.src.engine[.x]`` on Keras >= 2.13.

    The finder is inert until someone imports ``keras.engine``; it never imports
    Keras or TensorFlow itself, so installing it costs nothing.
    """

    def find_spec(self, fullname, path=None, target=None):
        for old, new in _KERAS_ALIASES.items():
            if fullname == old or fullname.startswith(old + "."):
                target_name = new + fullname[len(old) :]
                if importlib.util.find_spec(target_name.split(".")[0]) is None:
                    return None
                try:
                    if importlib.util.find_spec(target_name) is None:
                        return None
                except ModuleNotFoundError:
                    return None
                return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        for old, new in _KERAS_ALIASES.items():
            if spec.name == old or spec.name.startswith(old + "."):
                module = importlib.import_module(new + spec.name[len(old) :])
                if spec.name == "keras.engine.functional":
                    _add_batchnorm_aliases()
                return module
        raise ImportError(spec.name)  # pragma: no cover

    def exec_module(self, module):
        # the target module was already executed by its own import
        pass


def _add_batchnorm_aliases():
    """nengo-dl imports ``BatchNormalizationV1/V2`` from ``keras.layers``."""
    import keras.layers  # pylint: disable=import-outside-toplevel
    import keras.src.layers  # pylint: disable=import-outside-toplevel

    for name in ("BatchNormalizationV1", "BatchNormalizationV2"):
        if not hasattr(keras.layers, name):
            setattr(keras.layers, name, getattr(keras.src.layers, name))


def install_keras_aliases():
    """Let ``import nengo_dl`` work with Keras 2.13 - 2.15 (idempotent).

    Keras 2.13 moved ``keras.engine`` to ``keras.src.engine`` and dropped
    ``BatchNormalizationV1/V2`` from ``keras.layers``; nengo-dl 3.6 imports both
    from their old places. ``import nengo_softlif`` installs this alias, so
    ``import nengo_softlif; import nengo_dl`` works in either order afterwards.
    On Keras <= 2.12 the old modules exist and the finder is never consulted.
    """
    if not any(isinstance(f, _KerasAliasFinder) for f in sys.meta_path):
        # first in line: the submodules of the aliased package would otherwise be
        # found (and executed a second time) by the ordinary path finder
        sys.meta_path.insert(0, _KerasAliasFinder())


#: What the ``.pth`` start-up line calls.
install = install_keras_aliases
