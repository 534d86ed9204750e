"""Every consequence of the pinned stack, and every alias for upstream drift, in one place.

The tested stack (also pinned in ``setup.cfg`` and ``constraints.txt``) is:

============  ===========  ============================================================
package       version      why
============  ===========  ============================================================
tensorflow    2.15.x       Newest release with Keras 2 as ``tf.keras``. nengo-dl 3.6 needs
                           Keras 2: it subclasses ``keras.engine.functional.Functional``.
                           From 2.16 on, ``tf.keras`` is Keras 3 and nengo-dl cannot work
                           without ``tf-keras``. The full ``tensorflow`` wheel is used
                           (not ``tensorflow-cpu``) because nengo-dl's build hard-codes a
                           ``tensorflow`` requirement, so ``tensorflow-cpu`` would install
                           a second copy; the full wheel also serves GPU users.
keras         2.15.x       Comes with tensorflow 2.15. Keras 2.13 moved ``keras.engine``
                           to ``keras.src.engine``: see :func:`install_keras_aliases`.
numpy         1.26.x       numpy 2 breaks nengo 3.2 (``np.bool8``, copy semantics) and
                           nengo-loihi 1.1; tensorflow 2.15 requires ``numpy<2``.
nengo         3.2.0        Last release tested by nengo-dl 3.6 and nengo-loihi 1.1.
nengo-dl      3.6.0        Last release.
nengo-loihi   1.1.0        Last release (optional extra ``[loihi]``).
============  ===========  ============================================================

Nothing in this module imports TensorFlow at import time.
"""

import importlib
import importlib.abc
import importlib.util

__all__ = [
    "install_keras_aliases",
    "import_nengo_dl",
    "fix_tensor_node_copy",
    "import_nengo_loihi",
    "check_loihi_target",
    "LOIHI_TARGETS",
]

# The alias finder lives in the top-level module ``nengo_softlif_startup`` (no
# imports but the standard library's), so that the ``nengo_softlif_startup.pth``
# file installed with the package can put it in place at interpreter start-up:
# ``import nengo_dl`` then works on its own, without importing nengo_softlif first.
from nengo_softlif_startup import install_keras_aliases  # noqa: E402


def import_nengo_dl():
    """Import nengo-dl (and so TensorFlow) with the aliases in place.

    Returns
    -------
    module
        The ``nengo_dl`` module.
    """
    install_keras_aliases()
    try:
        module = importlib.import_module("nengo_dl")
    except ImportError as err:
        raise ImportError(
            "nengo-softlif needs nengo-dl 3.6 with TensorFlow 2.12-2.15 for training "
            f"and nengo-dl simulation ({err}). Install the tested stack with "
            "`pip install -c constraints.txt -e .` (in the source folder) or "
            "`pip install 'tensorflow>=2.12,<2.16' 'numpy<2' nengo-dl==3.6.0`."
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
        return importlib.import_module("nengo_loihi")
    except ImportError as err:
        raise ImportError(
            "The Loihi backend needs the optional nengo-loihi package "
            f"({err}). Install it with `pip install -c constraints.txt -e '.[loihi]'` (in the source folder) "
            "(nengo-loihi 1.1 with numpy<2)."
        ) from err


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
