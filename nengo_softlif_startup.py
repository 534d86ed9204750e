"""Start-up hook of nengo-softlif: lets ``import nengo_dl`` and ``import nengo_loihi``
work on both tested stacks (see ``nengo_softlif/compat.py``).

nengo-dl 3.6 needs Keras 2, and imports ``keras.engine`` and
``keras.layers.BatchNormalizationV1/V2``, which moved:

- Keras 2.13-2.15 (TensorFlow 2.13-2.15) moved ``keras.engine`` to
  ``keras.src.engine`` and dropped ``BatchNormalizationV1/V2`` from ``keras.layers``.
- From TensorFlow 2.16 on, ``keras`` is Keras 3 (no ``engine`` at all) and Keras 2
  is the separate ``tf-keras`` package (``tf_keras``); ``tf.keras`` is Keras 2 only
  when the environment variable ``TF_USE_LEGACY_KERAS`` is set when TensorFlow is
  first imported.

:func:`install_keras_aliases` puts one import finder in place that serves the old
names from wherever they are now, and sets ``TF_USE_LEGACY_KERAS=1`` (unless it is
already set) the moment TensorFlow is first imported in an environment with
``tf_keras``. On numpy 2 it also makes ``import nengo_loihi`` import nengo-softlif
first, whose fix for nengo-loihi 1.1 under numpy 2 is then applied as nengo-loihi
finishes importing. The finder imports nothing (not Keras, not TensorFlow) until
one of those modules is imported, so it costs nothing to install.

The ``nengo_softlif_startup.pth`` file installed with nengo-softlif calls
:func:`install` at every interpreter start-up, so a script may ``import nengo_dl``
or ``import nengo_loihi`` first; ``import nengo_softlif`` installs it too (for
environments that skip .pth files, e.g. ``python -S``). This module uses the
standard library only.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import sys

__all__ = ["install", "install_keras_aliases"]

#: Modules imported under names they no longer have, and where they are now, in
#: the order tried (None: an empty package). An alias is used only when the old
#: name does not exist. keras.engine: nengo-dl 3.6 imports it; Keras 2.13-2.15
#: moved it, tf-keras (next to Keras 3) has it in tf_keras.src. nengo 4 moved its
#: numpy conv2d, which nengo-loihi 1.1's tests import, out of nengo._vendor.
_KERAS_ALIASES = {
    "keras.engine": ("keras.src.engine", "tf_keras.src.engine"),
    "nengo._vendor.npconv2d.conv2d": ("nengo.builder.transforms",),
    "nengo._vendor.npconv2d": (None,),
}

#: TensorFlow >= 2.16 serves ``tf.keras`` from tf-keras (Keras 2) when this is set.
LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"

#: Modules whose import first imports nengo-softlif, on numpy 2 only: nengo-softlif
#: registers the fix that the module needs there (``nengo_softlif.compat``).
_NEEDS_NENGO_SOFTLIF_ON_NUMPY2 = ("nengo_loihi",)


def _spec_or_none(name):
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def _numpy_major():
    try:
        return int(importlib.metadata.version("numpy").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


class _KerasAliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve ``keras.engine[.x]`` from where it is now; prepare TensorFlow and
    nengo-loihi imports (see the module docstring).

    The finder is inert until one of those modules is imported; it never imports
    Keras or TensorFlow itself, so installing it costs nothing.
    """

    def __init__(self):
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "tensorflow":
            use_legacy_keras()
            return None
        if fullname in _NEEDS_NENGO_SOFTLIF_ON_NUMPY2:
            return self._after_nengo_softlif(fullname)
        target_name = _alias_target(fullname)
        if target_name is None:
            return None
        # a module that exists where it always was is not aliased; a submodule of
        # an aliased package (found on the package's new path) is
        parent = fullname.rpartition(".")[0]
        parent_aliased = getattr(sys.modules.get(parent), "__name__", parent) != parent
        if not parent_aliased and importlib.machinery.PathFinder.find_spec(
            fullname, path
        ):
            return None
        return importlib.util.spec_from_loader(
            fullname, self, is_package=target_name == ""
        )

    def _after_nengo_softlif(self, fullname):
        if fullname in self._busy or _numpy_major() < 2:
            return None
        self._busy.add(fullname)
        try:
            # registers its post-import fixes, then finds the module through them
            importlib.import_module("nengo_softlif")
            return importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)

    def create_module(self, spec):
        target_name = _alias_target(spec.name)
        if target_name is None:  # pragma: no cover
            raise ImportError(spec.name)
        if target_name == "":
            return None  # the default: an empty package
        module = importlib.import_module(target_name)
        if spec.name == "keras.engine.functional":
            _add_batchnorm_aliases(target_name.split(".")[0])
        return module

    def exec_module(self, module):
        # the target module was already executed by its own import
        pass


def _alias_target(fullname):
    """Where the aliased module ``fullname`` is now (None: not aliased or absent;
    "": an empty package)."""
    for old, homes in _KERAS_ALIASES.items():
        if fullname == old and homes == (None,):
            return ""
        if fullname == old or fullname.startswith(old + "."):
            for new in homes:
                target_name = new + fullname[len(old) :]
                if _spec_or_none(target_name.split(".")[0]) is None:
                    continue
                if _spec_or_none(target_name) is not None:
                    return target_name
    return None


def _add_batchnorm_aliases(keras_package):
    """nengo-dl imports ``BatchNormalizationV1/V2`` from ``keras.layers``.

    Parameters
    ----------
    keras_package : str
        The package that serves ``keras.engine``: ``"keras"`` (Keras 2.13-2.15) or
        ``"tf_keras"`` (Keras 2 next to Keras 3).
    """
    import keras.layers  # pylint: disable=import-outside-toplevel

    layers = importlib.import_module(keras_package + ".src.layers")
    for name in ("BatchNormalizationV1", "BatchNormalizationV2"):
        if not hasattr(keras.layers, name):
            setattr(keras.layers, name, getattr(layers, name))


def use_legacy_keras():
    """Make TensorFlow >= 2.16 serve ``tf.keras`` from tf-keras (Keras 2).

    Sets ``TF_USE_LEGACY_KERAS=1`` if tf-keras is installed and the variable is not
    set yet; a value the user set is kept. Has an effect only before TensorFlow is
    imported; TensorFlow <= 2.15 (whose ``tf.keras`` is Keras 2) is not affected.
    """
    if LEGACY_KERAS_VARIABLE not in os.environ and _spec_or_none("tf_keras"):
        os.environ[LEGACY_KERAS_VARIABLE] = "1"


def install_keras_aliases():
    """Let ``import nengo_dl`` work with Keras 2.13 - 2.15 and tf-keras (idempotent).

    See the module docstring. ``import nengo_softlif`` installs this alias, so
    ``import nengo_softlif; import nengo_dl`` works in either order afterwards.
    On Keras <= 2.12 the old modules exist and the finder is never consulted.
    """
    if not any(isinstance(f, _KerasAliasFinder) for f in sys.meta_path):
        # first in line: the submodules of the aliased package would otherwise be
        # found (and executed a second time) by the ordinary path finder
        sys.meta_path.insert(0, _KerasAliasFinder())


#: What the ``.pth`` start-up line calls.
install = install_keras_aliases
