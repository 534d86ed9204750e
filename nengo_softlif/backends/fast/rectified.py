"""The spiking rectified-linear layer update: `nengo.SpikingRectifiedLinear.step`.

Integrate and fire without leak or refractory period: ``voltage += max(J, 0) * dt``,
then as many spikes as whole units of voltage (a neuron may spike more than once
in a step), each of ``amplitude / dt``. Used, for example, by the input spike
generators that `nengo_softlif.backends.loihi.to_loihi` puts off chip.
"""

import nengo
import numpy as np

from nengo_softlif.backends.fast.layers import NeuronLayer, register_neuron_layer

__all__ = ["SpikingRectifiedLinearLayer"]


@register_neuron_layer(nengo.SpikingRectifiedLinear)
class SpikingRectifiedLinearLayer(NeuronLayer):
    """A population of `nengo.SpikingRectifiedLinear` neurons, stepped as nengo."""

    def step(self, J):
        """One `nengo.SpikingRectifiedLinear.step`; the flat indices that spiked."""
        v = self.voltage.reshape(-1)
        work = self.work
        np.maximum(J.reshape(-1), 0, out=work)
        work *= self.dt
        v += work
        spiked = np.flatnonzero(v >= 1)
        counts = np.floor(v[spiked])
        v[spiked] -= counts
        self.counts = counts if np.any(counts > 1) else None
        return spiked
