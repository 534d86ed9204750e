"""nengo-loihi, imported once for the modules of `nengo_softlif.backends.loihi`.

Importing nengo-loihi imports TensorFlow and nengo-dl when they are installed;
this module imports it with TensorFlow hidden when TensorFlow is not imported
yet (``_import_nengo_loihi``), holds the names the other modules take from
nengo-loihi (import them from here, so that nengo-loihi is always imported this
way first) and silences the nengo-loihi warnings that say nothing about the
network (:func:`quiet_known_warnings`); :func:`build_loihi_model` builds a
prepared network into nengo-loihi's blocks. Without nengo-loihi, importing it raises
an ImportError that says how to install it.
"""

import sys
import warnings

from nengo_softlif.compat import import_nengo_loihi

__all__ = [
    "nengo_loihi",
    "MAX_COMPARTMENTS",
    "MAX_IN_AXONS",
    "MAX_OUT_AXONS",
    "MAX_SYNAPSE_BITS",
    "SynapseConfig",
    "discretize_block",
    "LoihiLIF",
    "LoihiSpikingRectifiedLinear",
    "discretize_tau_rc",
    "discretize_tau_ref",
    "quiet_known_warnings",
    "build_loihi_model",
    "ensemble_blocks",
]


def _import_nengo_loihi():
    """Import nengo-loihi; hide TensorFlow from it unless it is already imported."""
    if "tensorflow" in sys.modules:
        return import_nengo_loihi()
    sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError
    try:
        return import_nengo_loihi()
    finally:
        if "tensorflow" in sys.modules and sys.modules["tensorflow"] is None:
            del sys.modules["tensorflow"]


nengo_loihi = _import_nengo_loihi()

# pylint: disable=wrong-import-position,wrong-import-order
from nengo_loihi.block import (  # noqa: E402
    MAX_COMPARTMENTS,
    MAX_IN_AXONS,
    MAX_OUT_AXONS,
    MAX_SYNAPSE_BITS,
    SynapseConfig,
)
from nengo_loihi.builder import Model  # noqa: E402
from nengo_loihi.builder.builder import ValidationLevel  # noqa: E402
from nengo_loihi.builder.discretize import discretize_block  # noqa: E402
from nengo_loihi.neurons import (  # noqa: E402
    LoihiLIF,
    LoihiSpikingRectifiedLinear,
    discretize_tau_rc,
    discretize_tau_ref,
)


def quiet_known_warnings():
    """Silence the nengo-loihi warnings that say nothing about the network.

    Adds ``"ignore"`` filters to the current warning filters: call it inside
    `warnings.catch_warnings` so that they end with the block.
    """
    # small weights lose bits when quantised: quantisation_report measures it
    warnings.filterwarnings(
        "ignore", message="Lost .* extra bits", category=UserWarning
    )
    # the emulator fills integer arrays with NaN placeholders before setting them
    warnings.filterwarnings(
        "ignore", message="invalid value encountered in cast", category=RuntimeWarning
    )


def build_loihi_model(net, dt, discretize):
    """Build a prepared network into a nengo-loihi model (not a simulator).

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A network from :func:`~nengo_softlif.backends.loihi.to_loihi`.
    dt : float
    discretize : bool
        Discretise the blocks' weights, biases and thresholds as for the chip.

    Returns
    -------
    `nengo_loihi.builder.Model`
        Its blocks per on-chip ensemble: :func:`ensemble_blocks`.
    """
    model = Model(dt=float(dt))
    model.validation_level = ValidationLevel.NONE
    with warnings.catch_warnings():
        quiet_known_warnings()
        model.build(net, discretize=discretize)
    return model


def ensemble_blocks(model, ens):
    """The blocks (`nengo_loihi.block.LoihiBlock`) of an ensemble, as a list.

    Parameters
    ----------
    model : `nengo_loihi.builder.Model`
        From :func:`build_loihi_model`.
    ens : `nengo.Ensemble`
        An on-chip ensemble of the network.

    Returns
    -------
    list of `nengo_loihi.block.LoihiBlock`
    """
    blocks = model.objs[ens]["in"]
    return blocks if isinstance(blocks, list) else [blocks]
