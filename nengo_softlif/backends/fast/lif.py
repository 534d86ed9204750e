"""The LIF layer update: `nengo.LIF.step`, batched over image streams.

The neuron update is `nengo.LIF.step` (nengo 3.2), operation for operation
(refractory periods with partial steps, spike-time interpolation,
``min_voltage``, ``amplitude / dt`` spikes), with nengo's one-step delay of a
filtered connection (the filter groups feeding a layer are read one step after
they were updated).
"""

import nengo
import numpy as np
from nengo.utils.numpy import clip

from nengo_softlif.backends.fast.layers import NeuronLayer, register_neuron_layer

__all__ = ["LIFLayer"]


@register_neuron_layer(nengo.LIF)
class LIFLayer(NeuronLayer):
    """A population of `nengo.LIF` neurons, batched (batch, n), stepped as nengo.

    Parameters
    ----------
    ens : `nengo.Ensemble`
        The ensemble (`nengo.LIF` neurons, gain and bias given as arrays).
    initial : dict
        Initial ``"voltage"`` and ``"refractory_time"`` (n,), as nengo draws them.
    dtype : dtype
    dt : float
        Time step.
    """

    def __init__(self, ens, initial, dtype, dt):
        super().__init__(ens, initial, dtype, dt)
        nt = ens.neuron_type
        self.tau_rc = float(nt.tau_rc)
        self.tau_ref = float(nt.tau_ref)
        self.min_voltage = dtype.type(nt.min_voltage)
        # expm1(-dt / tau_rc): nengo's factor for every neuron that is not refractory
        self.decay = np.expm1(-np.full(1, dt, dtype=dtype) / self.tau_rc)[0]

    def reset(self, batch):
        """Initial state for ``batch`` streams."""
        super().reset(batch)
        # neurons with refractory time left
        self.busy = np.flatnonzero(self.refractory_time > 0)

    def _alloc(self, batch):
        super()._alloc(batch)
        self.above = np.empty(batch * self.n, dtype=bool)
        self.mark = np.zeros(batch * self.n, dtype=bool)

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        super().shrink(batch)
        self.busy = self.busy[self.busy < batch * self.n]

    def step(self, J):
        """One `nengo.LIF.step`; returns the flat indices of the neurons that spiked.

        Equivalent to nengo's vectorised update: neurons with no refractory time
        left get the full-step factor ``expm1(-dt / tau_rc)``; the few still
        refractory are updated with nengo's partial-step formula.
        """
        dt, tau_rc = self.dt, self.tau_rc
        v = self.voltage.reshape(-1)
        ref = self.refractory_time.reshape(-1)
        Jf = J.reshape(-1)
        busy = self.busy
        if busy.size:
            ref_b = ref[busy] - dt
            v_b = v[busy]
            J_b = Jf[busy]
        # voltage -= (J - voltage) * expm1(-delta_t / tau_rc), with delta_t = dt
        work = self.work
        np.subtract(Jf, v, out=work)
        work *= self.decay
        v -= work
        if busy.size:
            delta_t = clip((dt - ref_b), 0, dt)
            v[busy] = v_b - (J_b - v_b) * np.expm1(-delta_t / tau_rc)
            ref[busy] = ref_b
        np.greater(v, 1, out=self.above)
        spiked = np.flatnonzero(self.above)
        if spiked.size:
            t_spike = dt + tau_rc * np.log1p(-(v[spiked] - 1) / (Jf[spiked] - 1))
        if self.min_voltage > -np.inf:
            np.maximum(v, self.min_voltage, out=v)
        if spiked.size:
            v[spiked] = 0
            ref[spiked] = self.tau_ref + t_spike
        keep = busy[ref_b > 0] if busy.size else busy
        if keep.size and spiked.size:
            self.mark[spiked] = True
            keep = keep[~self.mark[keep]]
            self.mark[spiked] = False
        self.busy = np.concatenate([keep, spiked]) if keep.size else spiked
        return spiked
