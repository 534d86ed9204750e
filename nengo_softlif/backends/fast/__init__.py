"""The ``"fast"`` evaluation backend: event-driven spiking inference in numpy/scipy.

A spiking network from :func:`nengo_softlif.to_spiking` is feed-forward:
input -> linear map -> LIF -> synapse -> linear maps (possibly through passthrough
nodes: pooling, linear layers, merges) -> LIF -> ... -> output node; a layer may
sum several such paths (an ``Add``) or take them into slices (a ``Concatenate``). Synapses are linear filters, so
``filter(W @ spikes) == W @ filter(spikes)``: this backend applies each layer's
weights to the *spikes* of the layer before (sparse: at 10-50 Hz and ``dt = 1 ms``
only 1-5 % of the neurons spike in a step) and filters the resulting
post-synaptic currents, so the cost of a step scales with the number of spikes
times their fan-out, not with the size of the weight matrices.

* The maps between two neuron layers (e.g. average pooling then a convolution)
  are composed once, when the network is compiled (:class:`SpikeMap`): a fixed
  sparse part (pooling) is applied to the spikes first, then the last transform.
  A `nengo.Convolution` is applied to the (pooled) active inputs only, by an
  im2col product (:class:`ConvCore`); a dense map as a product of the active
  inputs, sorted by input, with the dense weights (:class:`MatrixCore`); other
  sparse maps as a sparse-sparse product.
* The input is constant during a presentation: the first layer's current is
  computed once per image.
* The neuron update is `nengo.LIF.step` (nengo 3.2), operation for operation
  (refractory periods with partial steps, spike-time interpolation,
  ``min_voltage``, ``amplitude / dt`` spikes), with nengo's one-step delay of a
  filtered connection. Initial voltages are those a `nengo.Simulator` draws for
  the same network (nengo's seeding of the network and ``seed + 1`` per
  ensemble), the same for every stream, and again after each reset.
* ``dtype="float64"``: the synapses are nengo's own discretised
  `nengo.LinearFilter` step classes, so the spike trains are those of the
  reference simulator, step for step (only the order of summations differs,
  which in practice never moves a spike).
* ``dtype="float32"`` (the default, ~2x faster): the alpha (or lowpass) synapse
  runs in a change of state basis with a few in-place operations, its input gain
  and uniform neuron gains folded into the weights; it agrees with the
  reference statistically (same rates and read-outs, not the same spikes).

Minibatch items are independent image streams, as in the nengo-dl backend.

The backend, by phase:

* ``cores``: the spike -> current operators (:class:`SpikeMap`,
  :class:`ConvCore`, :class:`MatrixCore`).
* ``layers``: the neuron layers' inputs and state, and the registry of the
  neuron types the backend runs (``FAST_NEURON_LAYERS``); ``lif``: the LIF
  update; ``rectified``: the spiking rectified-linear update; ``synapses``: the
  synaptic filters.
* ``compile``: :func:`compile_network` (checks, paths, order, assembly);
  ``network``: the :class:`CompiledNetwork` it returns and its time step.
* ``simulator``: :func:`run_fast`, registered as backend ``"fast"``.
"""

from nengo_softlif.backends.fast.compile import compile_network
from nengo_softlif.backends.fast.cores import ConvCore, MatrixCore, SpikeMap
from nengo_softlif.backends.fast.layers import (
    FAST_NEURON_LAYERS,
    NeuronLayer,
    register_neuron_layer,
)
from nengo_softlif.backends.fast.lif import LIFLayer
from nengo_softlif.backends.fast.network import CompiledNetwork
from nengo_softlif.backends.fast.simulator import run_fast
from nengo_softlif.transforms.matrix import convolution_matrix, transform_matrix

__all__ = [
    "FAST_NEURON_LAYERS",
    "LIFLayer",
    "NeuronLayer",
    "register_neuron_layer",
    "CompiledNetwork",
    "ConvCore",
    "MatrixCore",
    "SpikeMap",
    "compile_network",
    "convolution_matrix",
    "run_fast",
    "transform_matrix",
]
