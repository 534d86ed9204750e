"""A compiled network: its state, one time step, and the read-out sinks.

A step updates the LIF layers in topological order (each from the filtered
currents of the step before and the unfiltered spikes of this step), reads the
probed nodes, then updates the synaptic filters with this step's spikes.
Minibatch items are independent image streams, as in the nengo-dl backend.
"""

import time

import numpy as np

__all__ = ["CompiledNetwork", "NodeSink"]


class NodeSink:
    """A probed passthrough node: the network output or a monitor.

    Parameters
    ----------
    node : `nengo.Node`
        A passthrough node (``output=None``).
    dtype : dtype
    """

    def __init__(self, node, dtype):
        self.node = node
        self.n = node.size_in
        self.dtype = dtype
        self.incoming = []  # filter groups
        self.direct = []  # (source layer, SpikeMap)
        self.from_input = []
        self.constant = None
        self.base = None

    def set_input(self, images):
        """Per presentation: the input and constant parts of the value."""
        total = np.zeros((images.shape[0], self.n), dtype=self.dtype)
        for spike_map in self.from_input:
            total += spike_map.apply_dense(images)
        if self.constant is not None:
            total += self.constant
        self.base = total

    def shrink(self, batch):
        """Keep the first ``batch`` streams."""
        if self.base is not None:
            self.base = np.ascontiguousarray(self.base[:batch])

    def value(self, spikes, batch):
        """The node's value (batch, n) in this step, given the layers' spikes."""
        value = self.base
        for group in self.incoming:
            value = value + group.y[: batch * self.n].reshape(batch, self.n)
        for source, spike_map in self.direct:
            S = spikes[source]
            if S.nnz:
                value = value + spike_map.apply(S)
        return value


class CompiledNetwork:
    """A spiking network compiled for the fast backend.

    Attributes
    ----------
    layers : list
        LIF populations in a topological order.
    groups : list
        Synaptic filters (one per post target and synapse).
    sinks : dict
        Probed passthrough nodes (output and monitors) by node.
    last_spikes : dict
        After a step, the spikes of each layer (by index in ``layers``) as a CSR
        (batch, n_neurons) matrix of ``amplitude / dt``.
    spike_maps : dict
        ``(source, target) -> list of SpikeMap``: every composed linear map (the
        source is an `nengo.Ensemble`, the input node or a constant node; the
        target an `nengo.Ensemble` or a probed node).
    """

    def __init__(self, layers, groups, sinks, spike_maps, dtype, dt):
        self.layers = layers
        self.groups = groups
        self.sinks = sinks
        self.spike_maps = spike_maps
        self.dtype = dtype
        self.dt = dt

    def reset(self, batch):
        """Initial state for ``batch`` streams."""
        for layer in self.layers:
            layer.reset(batch)
        for group in self.groups:
            group.reset(batch)
        self.batch = batch

    def shrink(self, batch):
        """Drop all but the first ``batch`` streams."""
        if batch == self.batch:
            return
        for layer in self.layers:
            layer.shrink(batch)
        for group in self.groups:
            group.shrink(batch)
        for sink in self.sinks.values():
            sink.shrink(batch)
        self.batch = batch

    def present(self, images):
        """Set the input images (batch, n_in) for a presentation."""
        images = np.asarray(images, dtype=self.dtype)
        for layer in self.layers:
            layer.set_input(images)
        for sink in self.sinks.values():
            sink.set_input(images)

    def step(self, timings=None):
        """One time step; returns ``{probed node: value (batch, size)}``."""
        clock = time.perf_counter if timings is not None else None
        spikes = {}
        t0 = clock() if clock else 0
        for i, layer in enumerate(self.layers):
            J = layer.current(spikes)
            t1 = clock() if clock else 0
            spiked = layer.step(J)
            layer.count(spiked)
            spikes[i] = layer.spike_matrix(spiked)
            if clock:
                t2 = clock()
                timings["currents"] = timings.get("currents", 0) + t1 - t0
                timings["lif"] = timings.get("lif", 0) + t2 - t1
                t0 = t2
        self.last_spikes = spikes
        values = {
            node: sink.value(spikes, self.batch) for node, sink in self.sinks.items()
        }
        if clock:
            t1 = clock()
            timings["readout"] = timings.get("readout", 0) + t1 - t0
            t0 = t1
        for group in self.groups:
            group.update(spikes)
        if clock:
            timings["synapses"] = timings.get("synapses", 0) + clock() - t0
        return values
