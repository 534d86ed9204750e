"""Neuron layers of the fast backend, and the registry of the neuron types it runs.

A layer holds a population's state for a batch of image streams, its input
currents (``bias + gain * inputs``, the inputs read from the filter groups of the
step before, unfiltered spike maps of this step, and the input node's constant
part) and one neuron update per step. :class:`NeuronLayer` holds everything but
the update; each neuron type gets a subclass with its ``step``, registered in
:data:`FAST_NEURON_LAYERS` by the neuron type it runs (as nengo's
``Builder.register``): `nengo.LIF` (:mod:`~.lif`) and
`nengo.SpikingRectifiedLinear` (:mod:`~.rectified`) here, nengo-loihi's neuron
types when `nengo_softlif.backends.loihi` is imported.
"""

import numpy as np
import scipy.sparse as sp

from nengo_softlif.registry import Registry

__all__ = ["FAST_NEURON_LAYERS", "NeuronLayer", "neuron_layer", "register_neuron_layer"]

#: Neuron type class -> `NeuronLayer` subclass that runs it.
FAST_NEURON_LAYERS = Registry("fast-backend neuron layer")


def register_neuron_layer(neuron_type):
    """Decorator: run ``neuron_type`` (a class) with the decorated layer class.

    Registering a different layer for a known neuron type warns.
    """
    return FAST_NEURON_LAYERS.register(neuron_type)


def neuron_layer(ens, seed, dtype, dt):
    """The layer of an ensemble, its initial state drawn as nengo draws it.

    Parameters
    ----------
    ens : `nengo.Ensemble`
    seed : int
        nengo's seed of the ensemble (the state is drawn with ``seed + 1``, as
        ``nengo.builder.ensemble.build_neurons`` does).
    dtype : dtype
    dt : float
    """
    rng = np.random.RandomState(seed + 1)
    initial = ens.neuron_type.make_state(ens.n_neurons, rng=rng, dtype=np.float64)
    return FAST_NEURON_LAYERS[type(ens.neuron_type)](ens, initial, dtype, dt)


class NeuronLayer:
    """A population of spiking neurons, batched (batch, n): inputs, state, spikes.

    Subclasses define :meth:`step`; the state variables are the neuron type's
    (its ``make_state``), one row per stream.

    Parameters
    ----------
    ens : `nengo.Ensemble`
        The ensemble (gain and bias given as arrays).
    initial : dict
        The neuron type's initial state variables (n,), as nengo draws them.
    dtype : dtype
    dt : float
        Time step.
    """

    def __init__(self, ens, initial, dtype, dt):
        self.ens = ens
        self.n = ens.n_neurons
        self.dtype = dtype
        self.dt = dt
        self.amplitude = float(getattr(ens.neuron_type, "amplitude", 1.0))
        self.spike_value = self.amplitude / dt
        self.gain = np.asarray(ens.gain, dtype=dtype)
        self.bias = np.asarray(ens.bias, dtype=dtype)
        self.unit_gain = bool(np.all(self.gain == 1))
        self.uniform_gain = bool(np.all(self.gain == self.gain.flat[0]))
        self.initial = {k: np.asarray(v, dtype=dtype) for k, v in initial.items()}
        self.counts = None  # spikes per neuron in the last step, if not all 1
        self.totals = None  # (batch * n) spikes so far, while counting
        self.incoming = []  # filter groups (their output is read one step later)
        self.direct = []  # (source layer, SpikeMap): unfiltered, no delay
        self.from_input = []  # SpikeMaps from the input node
        self.constant = None  # (n,) constant input (before gain)
        self.base = None

    def reset(self, batch):
        """Initial state for ``batch`` streams."""
        for name, value in self.initial.items():
            setattr(self, name, np.tile(value, (batch, 1)))
        self._alloc(batch)

    def _alloc(self, batch):
        self.batch = batch
        self.J = np.empty((batch, self.n), dtype=self.dtype)
        self.work = np.empty(batch * self.n, dtype=self.dtype)
        self.indptr_edges = np.arange(batch + 1) * self.n
        if self.base is not None and self.base.ndim == 2:
            self.base = np.ascontiguousarray(self.base[:batch])

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        for name in self.initial:
            setattr(self, name, np.ascontiguousarray(getattr(self, name)[:batch]))
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
        """Update the state with current ``J``; the flat indices that spiked.

        Neurons that spike more than once in a step set ``self.counts`` (the
        number of spikes of each index returned), else it stays None.
        """
        raise NotImplementedError

    def count(self, spiked):
        """Add the spikes of a step to ``totals`` (if counting)."""
        if self.totals is not None:
            self.totals[spiked] += 1 if self.counts is None else self.counts

    def spike_matrix(self, spiked):
        """The spikes of a step as a CSR (batch, n) matrix of ``amplitude / dt``."""
        indptr = np.searchsorted(spiked, self.indptr_edges)
        indices = spiked - np.repeat(self.indptr_edges[:-1], np.diff(indptr))
        if self.counts is None:
            data = np.full(spiked.size, self.spike_value, dtype=self.dtype)
        else:
            data = (self.counts * self.spike_value).astype(self.dtype)
        return sp.csr_matrix(
            (data, indices.astype(np.int32), indptr.astype(np.int32)),
            shape=(self.batch, self.n),
        )
