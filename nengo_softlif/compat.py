"""Every consequence of the tested stacks, and every alias for upstream drift, in one place.

Two stacks are tested, chosen by the Python version (``setup.cfg`` has the ranges,
``constraints.txt`` the exact versions CI runs: ``constraints/classic.txt`` and
``constraints/newest.txt``). The classic stack, on Python 3.10-3.11:

============  ===========  ============================================================
package       version      why
============  ===========  ============================================================
tensorflow    2.15.x       Newest release with Keras 2 as ``tf.keras``. nengo-dl 3.6 needs
                           Keras 2: it subclasses ``keras.engine.functional.Functional``.
                           From 2.16 on, ``tf.keras`` is Keras 3 and nengo-dl cannot work
                           without ``tf-keras`` (the newest stack). The full
                           ``tensorflow`` wheel is used (not ``tensorflow-cpu``) because
                           nengo-dl's build hard-codes a ``tensorflow`` requirement, so
                           ``tensorflow-cpu`` would install a second copy; the full
                           wheel also serves GPU users.
keras         2.15.x       Comes with tensorflow 2.15. Keras 2.13 moved ``keras.engine``
                           to ``keras.src.engine``: see :func:`install_keras_aliases`.
numpy         1.26.x       numpy 2 breaks nengo 3.2 (``np.bool8``, copy semantics);
                           tensorflow 2.15 requires ``numpy<2``.
nengo         3.2.0        Last release tested by nengo-dl 3.6 and nengo-loihi 1.1.
nengo-dl      3.6.0        Last release.
nengo-loihi   1.1.0        Last release (optional extra ``[loihi]``).
jinja2        3.1.x        Writes the run reports (templates that escape every value);
                           any 3.x works. A direct requirement, though nengo-dl brings it.
============  ===========  ============================================================

The newest stack, on Python 3.12-3.13 (TensorFlow 2.15 has no wheels for them):

============  ===========  ============================================================
package       version      why
============  ===========  ============================================================
tensorflow    2.16-2.21    ``tf.keras`` is Keras 3 unless ``TF_USE_LEGACY_KERAS`` is set
                           when TensorFlow is imported: the start-up hook sets it (see
                           :func:`use_legacy_keras`), so ``tf.keras`` is tf-keras.
tf-keras      = tensorflow Keras 2 as a separate package (``tf_keras``), the Keras that
                           nengo-dl 3.6 and this package's Keras layers are written
                           for; ``keras.engine`` is aliased to ``tf_keras.src.engine``.
keras         3.x          Comes with tensorflow; nengo-dl does not use it.
numpy         2.x          nengo-loihi 1.1 calls ``np.array(x, copy=False)``, which numpy
                           2 turned into "never copy" (an error when a copy is needed):
                           see :func:`fix_nengo_loihi_numpy2`.
nengo         4.1.x        The first nengo release for numpy 2 and Python 3.12; its
                           numpy ``conv2d`` moved out of ``nengo._vendor``: see
                           :func:`nengo_conv2d`. nengo-loihi 1.1 warns that it was
                           tested up to nengo 3.2; its own test suite passes on 4.1.
nengo-dl      3.6.0        Last release. It ships a source distribution only, whose build
                           needs a setuptools that has ``pkg_resources`` and runs on
                           Python 3.12 (``setuptools<70``, outside pip's build
                           isolation, which would pin ``setuptools<64``): ``install.sh``
                           builds it so.
nengo-loihi   1.1.0        Last release (optional extra ``[loihi]``).
============  ===========  ============================================================

Nothing in this module imports TensorFlow at import time.
"""

import importlib
import importlib.abc
import importlib.util
import os
import types

__all__ = [
    "install_keras_aliases",
    "use_legacy_keras",
    "import_nengo_dl",
    "fix_tensor_node_copy",
    "import_nengo_loihi",
    "fix_nengo_loihi_numpy2",
    "nengo_conv2d",
    "filter_signal",
    "check_loihi_target",
    "LOIHI_TARGETS",
]

# The alias finder lives in the top-level module ``nengo_softlif_startup`` (no
# imports but the standard library's), so that the ``nengo_softlif_startup.pth``
# file installed with the package can put it in place at interpreter start-up:
# ``import nengo_dl`` then works on its own, without importing nengo_softlif first.
from nengo_softlif_startup import (  # noqa: E402
    LEGACY_KERAS_VARIABLE,
    install_keras_aliases,
    use_legacy_keras,
)

#: How to install the tested stack for the running Python (README, Quick start).
INSTALL_HINT = (
    "Install the tested stack for this Python with `sh install.sh -e .` in the "
    "source folder (see README.md, Quick start)"
)


def import_nengo_dl():
    """Import nengo-dl (and so TensorFlow) with the aliases in place.

    Returns
    -------
    module
        The ``nengo_dl`` module.
    """
    install_keras_aliases()
    # TensorFlow >= 2.16 reads the variable when tf.keras is first used: this covers
    # an interpreter started without the .pth start-up file (python -S)
    use_legacy_keras()
    try:
        module = importlib.import_module("nengo_dl")
    except ImportError as err:
        raise ImportError(
            "nengo-softlif needs nengo-dl 3.6 with Keras 2 for training and nengo-dl "
            "simulation: TensorFlow 2.12-2.15, or TensorFlow 2.16-2.21 with the "
            f"tf-keras of the same version and {LEGACY_KERAS_VARIABLE} unset or 1 "
            f"({LEGACY_KERAS_VARIABLE}={os.environ.get(LEGACY_KERAS_VARIABLE)!r}; "
            f"{err}). {INSTALL_HINT}."
        ) from err
    fix_tensor_node_copy(module)
    return module


def fix_tensor_node_copy(nengo_dl):
    """Let ``copy.deepcopy`` (and so ``Network.copy``) copy a nengo-dl TensorNode.

    nengo-dl 3.6's ``TensorNode`` replaces `nengo.Node`'s ``size_in``, ``size_out``
    and ``output`` parameters (by properties computed from ``shape_in`` and
    ``shape_out``, and by ``tensor_func``) but keeps Node's ``_param_init_order``,
    which lists them, so restoring a copy fails with ``KeyError: 'size_in'``.
    Keeping only the names that are still parameters is what nengo-dl would have
    needed. Idempotent.

    Parameters
    ----------
    nengo_dl : module
    """
    from nengo.params import Parameter  # pylint: disable=import-outside-toplevel

    cls = nengo_dl.TensorNode
    cls._param_init_order = [
        name
        for name in cls._param_init_order
        if isinstance(getattr(cls, name, None), Parameter)
    ]


def import_nengo_loihi():
    """Import nengo-loihi, or say how to install it.

    Returns
    -------
    module
        The ``nengo_loihi`` module.
    """
    try:
        module = importlib.import_module("nengo_loihi")
    except ImportError as err:
        raise ImportError(
            "The Loihi backend needs the optional nengo-loihi package "
            f"({err}). Install it with `sh install.sh -e '.[loihi]'` in the "
            "source folder (nengo-loihi 1.1 with the tested stack of this Python)."
        ) from err
    # on numpy 2 the start-up hook (or ``import nengo_softlif``) registered the fix;
    # this covers a nengo_loihi imported before either existed
    fix_nengo_loihi_numpy2(module)
    return module


class _Numpy1Copy(types.ModuleType):
    """numpy, whose ``array(x, copy=False)`` means "copy only if needed" as in numpy 1.

    numpy 2 made ``copy=False`` mean "never copy" (a ValueError when a copy is
    needed) and spells numpy 1's meaning ``copy=None``.
    """

    def __init__(self, numpy):
        super().__init__("numpy")
        self._numpy = numpy

    def __getattr__(self, name):
        return getattr(self._numpy, name)

    def array(self, obj, *args, copy=True, **kwargs):
        return self._numpy.array(
            obj, *args, copy=None if copy is False else copy, **kwargs
        )


#: nengo-loihi 1.1 modules that call ``np.array(x, copy=False)`` on arrays that
#: need a copy (a dtype change or more dimensions).
NENGO_LOIHI_NUMPY1_COPY = ("nengo_loihi.neurons", "nengo_loihi.block")


def fix_nengo_loihi_numpy2(nengo_loihi):
    """Let nengo-loihi 1.1 run on numpy 2 (idempotent; nothing to do on numpy 1).

    nengo-loihi 1.1 converts weights, gains and biases with ``np.array(x,
    copy=False, dtype=...)``, which numpy 2 refuses whenever the conversion needs
    a copy. The modules in `NENGO_LOIHI_NUMPY1_COPY` get a numpy whose ``array``
    keeps numpy 1's meaning ("copy only if needed"); everything else about numpy,
    and every other module, is unchanged.

    Parameters
    ----------
    nengo_loihi : module
    """
    import numpy  # pylint: disable=import-outside-toplevel

    del nengo_loihi  # its submodules are what change
    if int(numpy.__version__.split(".")[0]) < 2:
        return
    for name in NENGO_LOIHI_NUMPY1_COPY:
        module = importlib.import_module(name)
        if not isinstance(module.np, _Numpy1Copy):
            module.np = _Numpy1Copy(numpy)


def nengo_conv2d(x, w, pad="SAME", stride=(1, 1)):
    """nengo's own numpy ``conv2d`` (NHWC input ``x``, HWIO kernel ``w``).

    nengo 3.2 vendors it as ``nengo._vendor.npconv2d.conv2d.conv2d``; nengo 4 moved
    it into ``nengo.builder.transforms``.
    """
    # pylint: disable=import-outside-toplevel
    try:
        from nengo._vendor.npconv2d.conv2d import conv2d
    except ImportError:
        from nengo.builder.transforms import conv2d
    return conv2d(x, w, pad=pad, stride=stride)


def filter_signal(synapse, signal, dt):
    """Filter a 1-D ``signal`` (one value per time step) by ``synapse``, from 0.

    nengo 4.1's ``Synapse.filt`` steps a 1-D signal with a filter of shape (1,) and
    stores each (1,)-shaped output into a scalar element, which numpy 2.5 refuses
    ("setting an array element with a sequence"); a one-column signal works on
    every version.

    Parameters
    ----------
    synapse : `nengo.synapses.LinearFilter`
    signal : array_like
        Shape ``(n_steps,)``.
    dt : float
        Time step in seconds.

    Returns
    -------
    numpy.ndarray
        The filtered signal, shape ``(n_steps,)``.
    """
    import numpy  # pylint: disable=import-outside-toplevel

    column = numpy.asarray(signal, dtype=float)[:, None]
    return synapse.filt(column, dt=dt, y0=0)[:, 0]


#: nengo-loihi's simulator targets: emulator, emulator without quantisation, chip.
LOIHI_TARGETS = ("sim", "simreal", "loihi")


def check_loihi_target(target, name="target"):
    """Refuse a nengo-loihi target that cannot run here, before any work.

    nengo-loihi 1.1 runs on Loihi hardware (``target="loihi"``) only with Intel's
    NxSDK, which is not on PyPI; without it, it fails with a bare assertion once
    the network is built. This check looks for the package without importing
    nengo-loihi.

    Parameters
    ----------
    target : str
        ``"sim"``, ``"simreal"`` or ``"loihi"``.
    name : str
        How the caller names the value in the message (e.g. ``"--loihi-target"``).

    Raises
    ------
    ValueError
        For a target nengo-loihi does not know.
    ImportError
        For ``"loihi"`` without NxSDK.
    """
    if target not in LOIHI_TARGETS:
        raise ValueError(
            f"{name} {target!r} is not a nengo-loihi target; use one of "
            f"{', '.join(LOIHI_TARGETS)}"
        )
    if target == "loihi" and importlib.util.find_spec("nxsdk") is None:
        raise ImportError(
            f"{name} loihi runs on Loihi hardware, which needs Intel's NxSDK "
            "package (not installed; it comes with access to a Loihi board, not "
            f"from PyPI); use {name} sim (the emulator) or simreal (the emulator "
            "without quantisation) on this machine"
        )


def set_trainable(config, obj, trainable):
    """Mark a nengo object (not) trainable for nengo-dl, without importing nengo-dl.

    This writes the same config parameter that ``nengo_dl.configure_settings(
    trainable=None)`` adds (a ``BoolParam`` named ``trainable`` on the network's
    config for ensembles, connections and neurons), so nengo-dl reads it as usual.

    Parameters
    ----------
    config : `nengo.Config`
        The config of the network that contains ``obj``.
    obj : `nengo.Ensemble`, `nengo.Connection` or `nengo.ensemble.Neurons`
        The object.
    trainable : bool
        Whether nengo-dl may change its parameters.
    """
    import nengo  # pylint: disable=import-outside-toplevel
    from nengo.exceptions import ConfigError  # pylint: disable=import-outside-toplevel
    from nengo.params import BoolParam  # pylint: disable=import-outside-toplevel

    for cls in (nengo.Ensemble, nengo.Connection, nengo.ensemble.Neurons):
        try:
            params = config[cls]
        except ConfigError:
            config.configures(cls)
            params = config[cls]
        if "trainable" not in params._extra_params:  # noqa: SLF001
            params.set_param("trainable", BoolParam("trainable", None, optional=True))
    config[obj].trainable = trainable
