"""Compiling a network for the fast backend: checks, paths, order and assembly.

`compile_network` checks that the network is a feed-forward network of spiking
neuron layers (`nengo.LIF`, `nengo.SpikingRectifiedLinear` and the types of
:data:`~.layers.FAST_NEURON_LAYERS`) with linear connections (a chain, or a
graph with merges), finds every path from a source (a layer, the
input node or a constant node) through passthrough nodes to a target (a layer
or a probed node), orders the layers topologically and assembles the composed
maps (:class:`~.cores.SpikeMap`), the neuron layers and one synaptic filter per
target and synapse. Initial voltages and transform samples come from nengo's
seeding of the network, as a `nengo.Simulator` would draw them.
"""

import nengo
import numpy as np
from nengo.builder.network import seed_network
from nengo.ensemble import Neurons
from nengo.synapses import LinearFilter
from nengo.transforms import Convolution, NoTransform

from nengo_softlif.backends.fast import lif, rectified  # noqa: F401 (registered)
from nengo_softlif.backends.fast.cores import DENSE_THRESHOLD, MatrixCore, SpikeMap
from nengo_softlif.backends.fast.layers import (
    FAST_NEURON_LAYERS,
    NeuronLayer,
    neuron_layer,
)
from nengo_softlif.backends.fast.network import CompiledNetwork, NodeSink
from nengo_softlif.backends.fast.synapses import FilterGroup, synapse_key
from nengo_softlif.transforms.matrix import compose, transform_matrix

__all__ = ["compile_network"]


_USE_OTHER_BACKEND = 'use backend="nengo-dl" (or "nengo") for this network'


def _name(obj):
    if isinstance(obj, nengo.Connection):
        label = f' "{obj.label}"' if obj.label else ""
        return f"<Connection{label} from {obj.pre_obj} to {obj.post_obj}>"
    return str(obj)


def _unsupported(obj, why):
    return TypeError(
        f"The fast backend cannot run {_name(obj)}: {why}. It runs feed-forward "
        f"networks of spiking neuron layers (nengo.LIF, ...) with linear "
        f"connections; {_USE_OTHER_BACKEND}."
    )


def _node_kind(node, inp):
    if node is inp:
        return "input"
    if node.output is None:
        return "passthrough"
    if (
        node.size_in == 0
        and not callable(node.output)
        and not isinstance(node.output, nengo.Process)
    ):
        return "constant"
    raise _unsupported(
        node,
        "nodes other than the input must be passthrough nodes (output=None) or "
        "constants (an array output); this one computes a function or a process",
    )


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _probed_nodes(probes):
    """``{node: probe}`` of the probes, which must be on passthrough nodes."""
    probed = {}
    for probe in probes:
        target = probe.target
        if not isinstance(target, nengo.Node) or target.output is not None:
            raise _unsupported(probe, "only probes on passthrough nodes are supported")
        if probe.synapse is not None:
            raise _unsupported(probe, "probes must have synapse=None")
        if probe.attr not in ("output", "input"):
            raise _unsupported(
                probe, f"probes must record 'output' or 'input', not {probe.attr!r}"
            )
        probed[target] = probe
    return probed


def _check_ensembles(ensembles):
    """Every ensemble must be noiseless neurons of a registered type, with array
    gain and bias."""
    for ens in ensembles:
        if type(ens.neuron_type) not in FAST_NEURON_LAYERS:
            known = ", ".join(sorted(t.__name__ for t in FAST_NEURON_LAYERS))
            raise _unsupported(
                ens,
                f"its neurons are {type(ens.neuron_type).__name__}; it runs {known} "
                "(register others with "
                "nengo_softlif.backends.fast.register_neuron_layer)",
            )
        if ens.noise is not None:
            raise _unsupported(ens, "it has neuron noise")
        for attr in ("gain", "bias"):
            value = getattr(ens, attr)
            if value is None or isinstance(value, nengo.dists.Distribution):
                raise _unsupported(ens, f"its {attr} is not given as an array")


def _outgoing_connections(net, inp):
    """``{pre object: [connection, ...]}``, once every connection is checked."""
    out_conns = {}
    for conn in net.all_connections:
        if conn.learning_rule_type is not None:
            raise _unsupported(conn, "it has a learning rule")
        if conn.function is not None:
            raise _unsupported(conn, "it computes a function (nonlinear)")
        pre, post = conn.pre_obj, conn.post_obj
        if isinstance(pre, nengo.Ensemble):
            raise _unsupported(conn, "decoded connections from ensembles need decoders")
        if isinstance(post, nengo.Ensemble):
            raise _unsupported(conn, "connections into ensembles need encoders")
        if isinstance(post, nengo.Node):
            _node_kind(post, inp)
            if post is inp:
                raise _unsupported(conn, "connections into the input node")
        if isinstance(pre, nengo.Node):
            _node_kind(pre, inp)
        if conn.synapse is not None and not (
            isinstance(conn.synapse, LinearFilter)
            and type(conn.synapse).make_step is LinearFilter.make_step
        ):
            raise _unsupported(
                conn,
                f"its synapse {conn.synapse} is not a nengo.LinearFilter with "
                "nengo's own step (Lowpass, Alpha, LinearFilter)",
            )
        out_conns.setdefault(pre, []).append(conn)
    return out_conns


# --------------------------------------------------------------------------
# Paths and order
# --------------------------------------------------------------------------


def _find_paths(net, inp, ensembles, out_conns, probed):
    """Every path from a source through passthrough nodes to a target.

    Returns
    -------
    paths : list of tuple
        ``(source, target, [conn, ...], synapse or None)``; a source is an
        `nengo.Ensemble`, the input node or a constant node, a target an
        `nengo.Ensemble` or a probed node.
    """
    paths = []

    def walk(obj, source, chain, on_path):
        for conn in out_conns.get(obj, []):
            post = conn.post_obj
            path = chain + [conn]
            synapses = [c.synapse for c in path if c.synapse is not None]
            if len(synapses) > 1:
                raise _unsupported(
                    conn,
                    f"the path from {_name(source)} through it has {len(synapses)} "
                    "synapses in series (only one per path is supported)",
                )
            syn = synapses[0] if synapses else None
            if isinstance(post, Neurons):
                paths.append((source, post.ensemble, path, syn))
            elif isinstance(post, nengo.Node):
                if post in on_path:
                    raise _unsupported(
                        conn, "it closes a loop through passthrough nodes"
                    )
                if post in probed:
                    paths.append((source, post, path, syn))
                walk(post, source, path, on_path | {post})

    sources = (
        [ens.neurons for ens in ensembles]
        + [inp]
        + [
            node
            for node in net.all_nodes
            if node is not inp and _node_kind(node, inp) == "constant"
        ]
    )
    for src in sources:
        walk(src, src.ensemble if isinstance(src, Neurons) else src, [], set())
    return paths


def _topological_order(ensembles, paths):
    """The layers in a topological order (any cycle is a recurrent network)."""
    ens_index = {ens: i for i, ens in enumerate(ensembles)}
    edges = {ens: set() for ens in ensembles}
    for source, target, path, _ in paths:
        if isinstance(source, nengo.Ensemble) and isinstance(target, nengo.Ensemble):
            if source is target:
                raise _unsupported(
                    path[0], f"it is a recurrent connection on {_name(source)}"
                )
            edges[source].add(target)
    indegree = {ens: 0 for ens in ensembles}
    for ens in ensembles:
        for tgt in edges[ens]:
            indegree[tgt] += 1
    order, ready = [], [e for e in ensembles if indegree[e] == 0]
    while ready:
        ens = ready.pop(0)
        order.append(ens)
        for tgt in sorted(edges[ens], key=ens_index.get):
            indegree[tgt] -= 1
            if indegree[tgt] == 0:
                ready.append(tgt)
    if len(order) < len(ensembles):
        cycle = sorted(_name(e) for e in ensembles if indegree[e] > 0)
        raise TypeError(
            f"The fast backend cannot run recurrent networks: {', '.join(cycle)} are "
            f"connected in a loop; {_USE_OTHER_BACKEND}."
        )
    return order


# --------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------


def _is_identity(conn):
    """Whether a connection passes its input on unchanged (no transform, slice)."""
    return (
        isinstance(conn.transform, NoTransform)
        and isinstance(conn.pre_slice, slice)
        and conn.pre_slice == slice(None)
        and isinstance(conn.post_slice, slice)
        and conn.post_slice == slice(None)
        and conn.pre_obj.size_out == conn.post_obj.size_in
    )


class _PathMaps:
    """The linear maps of connections and paths, with nengo's seeds.

    Parameters
    ----------
    seeds : dict
        nengo's seed of every object (`nengo.builder.network.seed_network`).
    dtype : dtype
    dense_threshold : float
        Density from which a map is stored dense.
    """

    def __init__(self, seeds, dtype, dense_threshold):
        self.seeds = seeds
        self.dtype = dtype
        self.dense_threshold = dense_threshold
        self.matrices = {}

    def matrix(self, conn):
        """The (post, pre) matrix of a connection (computed once)."""
        if conn not in self.matrices:
            try:
                self.matrices[conn] = transform_matrix(
                    conn, rng=np.random.RandomState(self.seeds[conn])
                )
            except TypeError as err:
                raise _unsupported(conn, str(err)) from None
        return self.matrices[conn]

    def composed(self, path):
        """The product of the matrices of a path's connections."""
        return compose([self.matrix(c) for c in path])

    def spike_map(self, path):
        """The `SpikeMap` of a path from a layer (the kernel sampled as nengo).

        Identity connections at the end of the path (into a merge's target) are
        left out: the last transform is then a convolution applied as one.
        """
        while len(path) > 1 and _is_identity(path[-1]):
            path = path[:-1]
        last = path[-1]
        kernel = None
        if type(last.transform) is Convolution:
            rng = np.random.RandomState(self.seeds[last])
            kernel = last.transform.sample(rng=rng)
        return SpikeMap.from_path(
            path, self.matrix, self.dtype, self.dense_threshold, kernel
        )


def _make_layers(order, seeds, dtype, dt):
    """The neuron layers in ``order`` and ``{ensemble: index}``."""
    layers = []
    position = {}
    for ens in order:
        position[ens] = len(layers)
        layers.append(neuron_layer(ens, seeds[ens], dtype, dt))
    return layers, position


def _connect_input(source, path, syn, sink, inp, maps):
    """Attach an input or constant-node path to ``sink``; its `SpikeMap` or None."""
    if syn is not None:
        raise _unsupported(
            path[-1],
            f"the path from {_name(source)} is filtered (input and constant "
            "paths must have synapse=None)",
        )
    full = maps.composed(path)
    if source is inp:
        spike_map = SpikeMap(None, MatrixCore(full, maps.dtype, maps.dense_threshold))
        sink.from_input.append(spike_map)
        return spike_map
    value = np.asarray(source.output, dtype=float).reshape(-1)
    const = np.asarray(full @ value).reshape(-1).astype(maps.dtype)
    sink.constant = const if sink.constant is None else sink.constant + const
    return None


def _connect_paths(paths, layers, position, sinks, inp, maps, dt, exact):
    """Attach every path to its target: filter groups and ``spike_maps``.

    Paths from a layer with a synapse feed the filter group of their target and
    synapse (one per target and synapse); without one they are applied directly.
    """
    groups, group_index, spike_maps = [], {}, {}
    for source, target, path, syn in paths:
        sink = (
            layers[position[target]]
            if isinstance(target, nengo.Ensemble)
            else sinks[target]
        )
        if not isinstance(source, nengo.Ensemble):  # input or constant node
            spike_map = _connect_input(source, path, syn, sink, inp, maps)
        else:
            spike_map = maps.spike_map(path)
            src = position[source]
            if syn is None:
                sink.direct.append((src, spike_map))
            else:
                key = (id(sink), synapse_key(syn))
                if key not in group_index:
                    group_index[key] = len(groups)
                    group = FilterGroup(syn, sink.n, maps.dtype, dt, fast=not exact)
                    group.sink = sink
                    groups.append(group)
                    sink.incoming.append(group)
                groups[group_index[key]].sources.append((src, spike_map))
        if spike_map is not None:
            spike_maps.setdefault((source, target), []).append(spike_map)
    return groups, spike_maps


def _fold_gains(groups, exact):
    """Fold gains into the weights of the maps feeding each filter group.

    Each fast filter's input gain, and in float32 a layer's uniform neuron gain,
    multiply the weights of the maps that feed it (float64 folds nothing: nengo's
    arithmetic).
    """
    for group in groups:
        factor = group.input_scale
        sink = group.sink
        if not exact and isinstance(sink, NeuronLayer) and not sink.unit_gain:
            if sink.uniform_gain:
                factor *= float(sink.gain.flat[0])
                group.gain_folded = True
        if factor != 1:
            for _, spike_map in group.sources:
                spike_map.scale(factor)


def compile_network(
    net, probes, dt=0.001, dtype="float32", dense_threshold=DENSE_THRESHOLD
):
    """Check that ``net`` is a feed-forward spiking network and compile it.

    Parameters
    ----------
    net : `nengo.Network`
        A spiking network with an input node ``net.inp`` (as `.SoftLIFNetwork`).
    probes : list of `nengo.Probe`
        Probes (on passthrough nodes, without synapse) whose values are wanted.
    dt : float
        Time step.
    dtype : str or dtype
        ``"float32"`` (fast) or ``"float64"`` (nengo's precision).
    dense_threshold : float
        Density from which a map is stored dense.

    Returns
    -------
    CompiledNetwork

    Raises
    ------
    TypeError
        Naming the object, when the network is not a supported feed-forward
        network of registered spiking neuron layers with linear connections.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a float type, got {dtype}")
    exact = dtype == np.float64  # nengo's arithmetic, operation for operation
    inp = getattr(net, "inp", None)
    if not isinstance(inp, nengo.Node):
        raise TypeError(f"{_name(net)} has no input node 'inp'")
    probed = _probed_nodes(probes)

    # nengo's seeds give the initial voltages (and transform samples) it would use
    seeds, seeded = {}, {}
    seed_network(net, seeds, seeded)

    ensembles = list(net.all_ensembles)
    _check_ensembles(ensembles)
    out_conns = _outgoing_connections(net, inp)
    paths = _find_paths(net, inp, ensembles, out_conns, probed)
    order = _topological_order(ensembles, paths)

    layers, position = _make_layers(order, seeds, dtype, dt)
    sinks = {node: NodeSink(node, dtype) for node in probed}
    maps = _PathMaps(seeds, dtype, dense_threshold)
    groups, spike_maps = _connect_paths(
        paths, layers, position, sinks, inp, maps, dt, exact
    )
    _fold_gains(groups, exact)
    return CompiledNetwork(layers, groups, sinks, spike_maps, dtype, dt)
