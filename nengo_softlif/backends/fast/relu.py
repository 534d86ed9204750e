"""The spiking ReLU layer update: `nengo.SpikingRectifiedLinear.step`, batched.

The networks of Keras models whose ``relu`` is swapped for
`.RectifiedLinearRates` spike with `nengo.SpikingRectifiedLinear` neurons: an
integrator without leak or refractory period that may spike several times in a
step (``voltage += max(J, 0) * dt``, as many spikes as whole units). Everything
but the neuron update (currents, filters, read-out) is that of `.LIFLayer`.
"""

import numpy as np
import scipy.sparse as sp

from nengo_softlif.backends.fast.lif import LIFLayer

__all__ = ["SpikingReLULayer"]


class SpikingReLULayer(LIFLayer):
    """A population of `nengo.SpikingRectifiedLinear` neurons, stepped as nengo.

    Parameters as `.LIFLayer` (``initial`` holds the ``"voltage"`` only).
    """

    def init_neurons(self, nt, initial):
        self.counts = np.empty(0, dtype=self.dtype)

    def reset(self, batch):
        """Initial state for ``batch`` streams."""
        self.v = np.tile(self.v0, (batch, 1))
        self._alloc(batch)

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        self.v = np.ascontiguousarray(self.v[:batch])
        self._alloc(batch)

    def step(self, J):
        """One `nengo.SpikingRectifiedLinear.step`; the flat indices that spiked."""
        v = self.v.reshape(-1)
        work = self.work
        np.maximum(J.reshape(-1), 0, out=work)
        work *= self.dt
        v += work
        np.floor(v, out=work)
        v -= work
        spiked = np.flatnonzero(work)
        self.counts = work[spiked]
        return spiked

    def spike_matrix(self, spiked):
        """The spikes of a step as a CSR (batch, n) matrix of ``count * amplitude
        / dt``."""
        indptr = np.searchsorted(spiked, self.indptr_edges)
        indices = spiked - np.repeat(self.indptr_edges[:-1], np.diff(indptr))
        data = (self.spike_value * self.counts).astype(self.dtype, copy=False)
        return sp.csr_matrix(
            (data, indices.astype(np.int32), indptr.astype(np.int32)),
            shape=(self.batch, self.n),
        )
