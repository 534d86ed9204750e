"""Run converted spiking networks on Loihi with nengo-loihi (emulator or chip).

:func:`to_loihi` turns a spiking `.SoftLIFNetwork` (from
:func:`nengo_softlif.to_spiking`) into a network that `nengo_loihi.Simulator` can
build, and importing this module registers the ``"loihi"`` evaluation backend
(:func:`run_loihi`). Without nengo-loihi, importing this module raises an
ImportError that says how to install it (``pip install nengo-softlif[loihi]``).

What changes on the way to the chip
-----------------------------------
Input
    The input node stays off chip and drives an off-chip layer of
    `nengo.SpikingRectifiedLinear` neurons, one per pixel (two, on and off, for
    signed inputs such as mean-subtracted CIFAR-10) firing at ``input_rates`` Hz
    per unit of input; their spikes, scaled by ``1 / input_rates``, average to
    the image. nengo-loihi needs this: only spikes go from the host to the chip,
    and convolutions into the chip must start from neurons. The first layer's
    weights are unchanged (on/off pairs get ``[W, -W]``); its input is filtered
    by ``input_synapse`` (5 ms), where nengo has an analog input.
Average pooling
    A pooling layer is a passthrough node with fixed sparse weights in the
    trained network, which nengo-loihi cannot merge into the next layer. A pool
    that tiles its input (size = stride, e.g. MNIST's 2x2) followed by a
    convolution is folded into it: pooling then a ``k x k`` convolution is one
    ``(2k) x (2k)`` convolution of stride 2 with the kernel spread over each
    window (exact; MNIST's conv2 then needs 32 cores instead of 13 + 4). Other
    pools (before a dense layer, where folding would multiply the layer's input
    axons by the pool area: the paper's MNIST ``fc`` layer would need 12,544 input
    axons per core instead of 3,136, and a core has 4,096; or with overlapping,
    clipped windows as CIFAR-10's 3x3/2) become a layer of on-chip
    integrate-and-fire counters (`nengo_loihi.neurons.LoihiSpikingRectifiedLinear`,
    which resets to zero like the chip): by default a counter over ``n`` inputs
    fires once per ``n`` input spikes (each adds ``(1 + 0.25 / n) / n`` of the
    threshold) with spikes of the inputs' amplitude, so it fires at the window's
    mean rate. Spikes that arrive in the step a counter crosses threshold are
    partly lost at the reset (3-6% of the pooled rate at 50 Hz inputs); counting
    fewer spikes per output spike (``pool_spikes``) sends more, smaller spikes
    but loses more to coincidences (on a partly trained MNIST network, read-out
    difference from nengo 0.045 counting 4, 0.093 counting 2, 0.18 counting 1:
    its ``fc`` layer, inhibition-dominated, is sensitive to lost spikes, less to
    the shot noise of larger spikes). Counters add
    one time step of delay and are not counted in `.evaluate`'s rates and
    operation counts (those follow the architecture).
Synapses
    Loihi filters a core's input with one first-order low-pass (no alpha
    synapse). Every `nengo.Alpha` on a connection into the chip becomes
    ``nengo.Lowpass(2 * tau)`` (or ``Lowpass(synapse_tau)``): with the same
    (unit) integral, the low-pass of twice the time constant has the same mean
    delay (``2 tau``) and the same white-noise power gain
    (``integral h^2 = 1 / (4 tau)``) as the alpha filter. It passes more of the
    regular spike trains' ripple at high rates (the alpha filter falls as
    ``1/f^2``, the low-pass as ``1/f``); :func:`synapse_comparison` measures it
    (coefficient of variation of a filtered regular spike train, Alpha(5 ms) /
    Lowpass(10 ms) / Lowpass(5 ms): 10 Hz 2.00 / 2.00 / 2.99, 50 Hz 0.43 / 0.56 /
    1.03, 100 Hz 0.13 / 0.28 / 0.56, 200 Hz 0.033 / 0.14 / 0.28; 50% step
    response after 8 / 6 / 3 ms). Connections that leave the chip (the read-out)
    keep their alpha synapse: the host filters them.
Neurons
    `nengo.LIF` runs as Loihi's discrete LIF: spikes fall on whole time steps and
    the voltage resets to zero, so a neuron's period is rounded up to whole steps
    (`nengo_loihi.neurons.LoihiLIF` gives the rates) and the refractory period is
    ``round(tau_ref / dt)`` steps; ``tau_rc`` is quantised to 12 bits. Neurons
    start at zero voltage on the chip (the copy says so, so nengo-loihi does not
    warn).
Weights
    nengo-loihi scales each core's weights so that the largest is 255, keeps
    signed 8-bit values (steps of 1/127 of the largest weight, finer for a
    synapse group whose largest weight is a power of two smaller) and quantises
    biases and thresholds likewise (:func:`quantisation_report`: on the trained
    MNIST network 0.6-1.9% RMS weight change, 0.9-2.4% of the weights rounded to
    zero; outputs change by about 4% of their mean);
    ``target="simreal"`` runs the emulator without that quantisation.
Cores
    Every on-chip layer gets a `nengo_loihi.BlockShape` chosen by
    :func:`choose_block_shapes` so that every block fits a core: at most 1,024
    compartments, 4,096 input axons, 4,096 output axons and 1,048,576 bits of
    synapse memory, counted the way nengo-loihi counts them (population axons
    for convolutions, discrete axons for dense and sparse weights; the paper's
    MNIST network needs 141 cores, CIFAR-10's 102). A layer that no block shape
    can place raises `LoihiPlacementError` naming the layer and the limit.

Measured (``benchmarks/loihi_emulator.py``, the trained MNIST network, 200 ms
per image): no error on 55 test images on the emulator, as nengo-dl on the same
images (0.8% on 500); read-outs differ from nengo-dl by 13% of their mean
(restructuring 5%, Loihi's neuron dynamics 10%, weight quantisation 4%: not
additive), and the low-pass synapses alone by 1.2%; rates within 3-9%. The
emulator handles each spike in Python: 15 s per MNIST image after a 1.5-2.5
min build, 25 s per CIFAR-10 image.

Importing nengo-loihi imports TensorFlow and nengo-dl when they are installed
(for nengo-loihi's nengo-dl neuron builders, which also need nengo-extras).
This module imports nengo-loihi with TensorFlow hidden when TensorFlow is not
imported yet, which saves 5-20 s; importing TensorFlow later works as usual.
"""

from nengo_softlif.loihi._nengo_loihi import (
    _import_nengo_loihi as _import_nengo_loihi,
)
from nengo_softlif.loihi.conversion import POOL_MARGIN as POOL_MARGIN
from nengo_softlif.loihi.conversion import _folded_conv as _folded_conv
from nengo_softlif.loihi.conversion import chip_utilisation, to_loihi
from nengo_softlif.loihi.placement import (
    LIMITS,
    LayerPlacement,
    LoihiPlacementError,
    LoihiPlan,
    choose_block_shapes,
)
from nengo_softlif.loihi.quantisation import quantisation_report
from nengo_softlif.loihi.resources import POP_TYPE as POP_TYPE
from nengo_softlif.loihi.simulation import _simulate as _simulate
from nengo_softlif.loihi.simulation import run_loihi
from nengo_softlif.loihi.synapses import loihi_synapse, synapse_comparison

__all__ = [
    "to_loihi",
    "run_loihi",
    "quantisation_report",
    "synapse_comparison",
    "loihi_synapse",
    "choose_block_shapes",
    "chip_utilisation",
    "LoihiPlan",
    "LayerPlacement",
    "LoihiPlacementError",
    "LIMITS",
]
