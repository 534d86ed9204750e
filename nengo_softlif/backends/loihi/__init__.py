"""Run converted spiking networks on Loihi with nengo-loihi (emulator or chip).

:func:`to_loihi` turns a spiking `.SoftLIFNetwork` (from
:func:`nengo_softlif.to_spiking`) into a network that `nengo_loihi.Simulator` can
build, and importing this module registers the ``"loihi"`` evaluation backend
(:func:`run_loihi`). Without nengo-loihi, importing this module raises an
ImportError that says how to install it (``sh install.sh -e ".[loihi]"`` in the source folder).

What is supported, and what changes on the way to the chip (the details and
their measured effects are in ``docs/loihi-measurements.md``):

Input
    The input node stays off chip and drives an off-chip layer of
    `nengo.SpikingRectifiedLinear` neurons that turns the input into spikes
    (an on and an off neuron per input for signed inputs): only spikes go from
    the host to the chip, and convolutions into the chip must start from
    neurons. The first layer's weights are unchanged (on/off pairs get
    ``[W, -W]``).
Average pooling
    A pool that tiles its input, followed by a convolution, is folded into that
    convolution (exact: :func:`folded_conv`). Other pools become a layer of
    on-chip integrate-and-fire counters that fire once per ``n`` input spikes
    for windows of ``n`` inputs (by default; ``pool_spikes`` counts fewer), or
    of one-spike relays (``pool_relays``: a relay fires once per input spike,
    with a spike of ``1 / n`` of the input's amplitude); either adds one time
    step of delay. Counters of whole windows on slowly firing inputs send a few
    large spikes per image and carry their counts into the next image; relays
    send every spike on, but two spikes of a window in the same step make one.
    ``pool_relays="auto"`` (when evaluating) measures which is best per pool
    (:func:`choose_pools`). Pools compute their windows exactly when the
    windows at the image's edge divide by the full window (``AvgPool(edges=
    "padded")``, ``nengo-softlif train --pool-edges padded``).
Synapses
    Loihi filters a core's input with one first-order low-pass: connections
    into the chip take `nengo.Lowpass` or no synapse, and every `nengo.Alpha`
    becomes ``nengo.Lowpass(2 * tau)`` (:func:`loihi_synapse`, compared by
    :func:`synapse_comparison`). Connections that leave the chip (the read-out)
    keep their alpha synapse: the host filters them.
Neurons
    `nengo.LIF` and `nengo.SpikingRectifiedLinear` neurons run on the chip
    (`nengo.LIF` as Loihi's discrete LIF); they start at zero voltage.
Weights
    nengo-loihi quantises weights, biases and thresholds to the chip's integers
    (:func:`quantisation_report` measures the change); ``target="simreal"``
    runs the emulator without that quantisation.
Cores
    Every on-chip layer gets a `nengo_loihi.BlockShape` chosen by
    :func:`choose_block_shapes` so that every block fits a core (:data:`LIMITS`),
    counted the way nengo-loihi counts them. A layer that no block shape can
    place raises `LoihiPlacementError` naming the layer and the limit.

This module imports nengo-loihi with TensorFlow hidden when TensorFlow is not
imported yet; importing TensorFlow later works as usual.
"""

from nengo_softlif.backends.loihi import fast_layers  # noqa: F401 (registers them)
from nengo_softlif.backends.loihi.changes import CHIP_CHANGES, apply_chip_changes
from nengo_softlif.backends.loihi.conversion import POOL_MARGIN, folded_conv, to_loihi
from nengo_softlif.backends.loihi.placement import (
    LIMITS,
    LayerPlacement,
    LoihiPlacementError,
    LoihiPlan,
    chip_utilisation,
    choose_block_shapes,
)
from nengo_softlif.backends.loihi.pool_choice import PoolChoice, choose_pools
from nengo_softlif.backends.loihi.pools import counter_sizes
from nengo_softlif.backends.loihi.quantisation import quantisation_report
from nengo_softlif.backends.loihi.simulation import run_loihi
from nengo_softlif.backends.loihi.synapses import loihi_synapse, synapse_comparison

__all__ = [
    "to_loihi",
    "apply_chip_changes",
    "CHIP_CHANGES",
    "PoolChoice",
    "choose_pools",
    "counter_sizes",
    "run_loihi",
    "quantisation_report",
    "synapse_comparison",
    "loihi_synapse",
    "choose_block_shapes",
    "chip_utilisation",
    "folded_conv",
    "LoihiPlan",
    "LayerPlacement",
    "LoihiPlacementError",
    "LIMITS",
    "POOL_MARGIN",
]
