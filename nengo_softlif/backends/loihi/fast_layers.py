"""Loihi's neuron updates in the fast backend, for models of the chip.

nengo-loihi's `LoihiLIF` and `LoihiSpikingRectifiedLinear` reproduce, in nengo's
simulators, how Loihi's neurons fire on whole time steps (a LIF neuron's period
is rounded up to a whole number of steps; ``tau_rc`` and ``tau_ref`` take the
chip's discretised values). Their updates are registered here as layers of the
``"fast"`` backend (`nengo_softlif.backends.fast.FAST_NEURON_LAYERS`), operation
for operation as their ``step`` methods, so networks that use them (the chip
models of :mod:`nengo_softlif.backends.loihi.changes`) run there too.
"""

import numpy as np

from nengo_softlif.backends.fast.layers import NeuronLayer, register_neuron_layer
from nengo_softlif.backends.loihi._nengo_loihi import (
    LoihiLIF,
    LoihiSpikingRectifiedLinear,
    discretize_tau_rc,
    discretize_tau_ref,
)

__all__ = ["LoihiLIFLayer", "LoihiSpikingRectifiedLinearLayer"]


@register_neuron_layer(LoihiLIF)
class LoihiLIFLayer(NeuronLayer):
    """`nengo_loihi.neurons.LoihiLIF`, batched: `LoihiLIF.step` on (batch, n)."""

    def __init__(self, ens, initial, dtype, dt):
        super().__init__(ens, initial, dtype, dt)
        nt = ens.neuron_type
        self.tau_rc = float(discretize_tau_rc(nt.tau_rc, dt))
        self.tau_ref = float(discretize_tau_ref(nt.tau_ref, dt))
        self.min_voltage = dtype.type(nt.min_voltage)

    def step(self, J):
        """One `LoihiLIF.step`; the flat indices that spiked."""
        dt = self.dt
        v = self.voltage.reshape(-1)
        ref = self.refractory_time.reshape(-1)
        Jf = J.reshape(-1)
        ref -= dt
        delta_t = np.clip(dt - ref, 0, dt)
        v -= (Jf - v) * np.expm1(-delta_t / self.tau_rc).astype(self.dtype)
        spiked = np.flatnonzero(v > 1)
        np.maximum(v, self.min_voltage, out=v)
        v[spiked] = 0
        ref[spiked] = self.tau_ref + dt
        return spiked


@register_neuron_layer(LoihiSpikingRectifiedLinear)
class LoihiSpikingRectifiedLinearLayer(NeuronLayer):
    """`nengo_loihi.neurons.LoihiSpikingRectifiedLinear`, batched."""

    def step(self, J):
        """One `LoihiSpikingRectifiedLinear.step`; the flat indices that spiked."""
        v = self.voltage.reshape(-1)
        v += J.reshape(-1) * self.dt
        spiked = np.flatnonzero(v > 1)
        np.maximum(v, 0, out=v)
        v[spiked] = 0
        return spiked
