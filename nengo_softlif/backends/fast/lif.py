"""The LIF layer update: `nengo.LIF.step`, batched over image streams.

The neuron update is `nengo.LIF.step` (nengo 3.2), operation for operation
(refractory periods with partial steps, spike-time interpolation,
``min_voltage``, ``amplitude / dt`` spikes), with nengo's one-step delay of a
filtered connection (the filter groups feeding a layer are read one step after
they were updated).
"""

import numpy as np
import scipy.sparse as sp
from nengo.utils.numpy import clip

__all__ = ["LIFLayer"]


class LIFLayer:
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
        nt = ens.neuron_type
        self.ens = ens
        self.n = ens.n_neurons
        self.dtype = dtype
        self.dt = dt
        self.spike_value = float(nt.amplitude) / dt
        self.gain = np.asarray(ens.gain, dtype=dtype)
        self.bias = np.asarray(ens.bias, dtype=dtype)
        self.unit_gain = bool(np.all(self.gain == 1))
        self.uniform_gain = bool(np.all(self.gain == self.gain.flat[0]))
        self.v0 = np.asarray(initial["voltage"], dtype=dtype)
        self.init_neurons(nt, initial)
        self.incoming = []  # filter groups (their output is read one step later)
        self.direct = []  # (source layer, SpikeMap): unfiltered, no delay
        self.from_input = []  # SpikeMaps from the input node
        self.constant = None  # (n,) constant input (before gain)
        self.base = None

    def init_neurons(self, nt, initial):
        """The neuron constants and initial state other than the voltage."""
        self.tau_rc = float(nt.tau_rc)
        self.tau_ref = float(nt.tau_ref)
        self.min_voltage = self.dtype.type(nt.min_voltage)
        self.ref0 = np.asarray(initial["refractory_time"], dtype=self.dtype)
        # expm1(-dt / tau_rc): nengo's factor for every neuron that is not refractory
        self.decay = np.expm1(-np.full(1, self.dt, dtype=self.dtype) / self.tau_rc)[0]

    def reset(self, batch):
        """Initial state for ``batch`` streams."""
        self.v = np.tile(self.v0, (batch, 1))
        self.ref = np.tile(self.ref0, (batch, 1))
        self.busy = np.flatnonzero(self.ref > 0)  # neurons with refractory time left
        self._alloc(batch)

    def _alloc(self, batch):
        self.batch = batch
        self.J = np.empty((batch, self.n), dtype=self.dtype)
        self.work = np.empty(batch * self.n, dtype=self.dtype)
        self.above = np.empty(batch * self.n, dtype=bool)
        self.mark = np.zeros(batch * self.n, dtype=bool)
        self.indptr_edges = np.arange(batch + 1) * self.n
        if self.base is not None and self.base.ndim == 2:
            self.base = np.ascontiguousarray(self.base[:batch])

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        self.v = np.ascontiguousarray(self.v[:batch])
        self.ref = np.ascontiguousarray(self.ref[:batch])
        self.busy = self.busy[self.busy < batch * self.n]
        self._alloc(batch)

    def set_input(self, images):
        """Per presentation: ``bias + gain * (input and constant currents)``."""
        if not self.from_input and self.constant is None:
            self.base = self.bias
        else:
            total = np.zeros((images.shape[0], self.n), dtype=self.dtype)
            for spike_map in self.from_input:
                total += spike_map.apply_dense(images)
            if self.constant is not None:
                total += self.constant
            self.base = self.bias + self.gain * total
        if not self.incoming and not self.direct:
            np.copyto(self.J, self.base)  # constant current during the presentation

    def current(self, spikes):
        """Input current J (batch, n) of this step: ``bias + gain * inputs``."""
        J = self.J
        if not self.incoming and not self.direct:
            return J
        first = True
        for group in self.incoming:
            y = group.y[: J.size].reshape(J.shape)
            if not (group.gain_folded or self.unit_gain):
                term = np.multiply(self.gain, y, out=self.work.reshape(J.shape))
            else:
                term = y
            if first:
                np.add(self.base, term, out=J)
                first = False
            else:
                J += term
        if first:
            np.copyto(J, self.base)
        for source, spike_map in self.direct:
            S = spikes[source]
            if S.nnz:
                x = spike_map.apply(S)
                J += x if self.unit_gain else self.gain * x
        return J

    def step(self, J):
        """One `nengo.LIF.step`; returns the flat indices of the neurons that spiked.

        Equivalent to nengo's vectorised update: neurons with no refractory time
        left get the full-step factor ``expm1(-dt / tau_rc)``; the few still
        refractory are updated with nengo's partial-step formula.
        """
        dt, tau_rc = self.dt, self.tau_rc
        v = self.v.reshape(-1)
        ref = self.ref.reshape(-1)
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

    def spike_matrix(self, spiked):
        """The spikes of a step as a CSR (batch, n) matrix of ``amplitude / dt``."""
        indptr = np.searchsorted(spiked, self.indptr_edges)
        indices = spiked - np.repeat(self.indptr_edges[:-1], np.diff(indptr))
        data = np.full(spiked.size, self.spike_value, dtype=self.dtype)
        return sp.csr_matrix(
            (data, indices.astype(np.int32), indptr.astype(np.int32)),
            shape=(self.batch, self.n),
        )
