"""The ``"fast"`` evaluation backend: :func:`run_fast`.

Compiles the network (:func:`~.compile.compile_network`) and runs the images as
``minibatch_size`` independent streams, in chunks of streams that stay in cache.
The state of a minibatch is a few arrays of (minibatch, neurons) values per
layer; the largest memory is the dense weights of dense layers (stored
transposed) and the outputs (``4 * n_steps * n_out`` bytes per image, as the
other backends return).
The other public names of the backend are importable from here too.
"""

import math
import time

import numpy as np

from nengo_softlif.backends.fast.compile import compile_network
from nengo_softlif.backends.fast.cores import (
    DENSE_THRESHOLD,
    ConvCore,
    MatrixCore,
    SpikeMap,
)
from nengo_softlif.backends.fast.network import CompiledNetwork
from nengo_softlif.evaluation.backend import image_progress, register_backend
from nengo_softlif.transforms.matrix import convolution_matrix, transform_matrix

__all__ = [
    "run_fast",
    "compile_network",
    "CompiledNetwork",
    "transform_matrix",
    "convolution_matrix",
    "SpikeMap",
    "ConvCore",
    "MatrixCore",
]


def _streams(n_images, minibatch_size, stream_chunk, compiled):
    """How the images are spread over streams and the streams over chunks.

    Returns
    -------
    mb : int
        Number of streams that show at least one image.
    per_stream : int
        Images per stream (stream ``b`` shows images ``b * per_stream + k``).
    chunk : int
        Streams simulated at a time.
    """
    mb = max(1, min(minibatch_size, n_images))
    per_stream = math.ceil(n_images / mb)
    mb = math.ceil(n_images / per_stream)  # streams that show at least one image
    if stream_chunk == "auto":
        n_neurons = sum(layer.n for layer in compiled.layers)
        stream_chunk = max(1, 2**18 // max(n_neurons, 1))
    chunk = mb if stream_chunk is None else max(1, min(int(stream_chunk), mb))
    return mb, per_stream, chunk


def _start_presentation(compiled, s0, k, mb, per_stream, chunk, n_images, reset):
    """Set the state of the chunk from stream ``s0`` for its presentation ``k``.

    Streams past the end of the images are dropped (the chunk is reset to its
    initial state before its first presentation, and before every presentation
    if ``reset``).

    Returns
    -------
    idx : ndarray or None
        The images the chunk's streams show (None if no stream has one left).
    """
    s1 = min(s0 + chunk, mb, math.ceil((n_images - k) / per_stream))
    if s1 <= s0:
        return None
    if k == 0:
        compiled.reset(min(s0 + chunk, mb) - s0)
    compiled.shrink(s1 - s0)
    idx = np.arange(s0, s1) * per_stream + k
    if reset and k > 0:
        compiled.reset(s1 - s0)
    return idx


def _no_outputs(net, protocol, monitors):
    """The outputs and monitor sums of no images."""
    return (
        np.zeros((0, protocol.n_steps, net.out.size_out), dtype=np.float32),
        np.zeros((0, 2 * len(monitors))),
    )


def _counted_layers(compiled, spike_counts, n_images):
    """The labelled layers whose spikes are counted into ``spike_counts`` (zeroed)."""
    if spike_counts is None:
        return []
    counted = [layer for layer in compiled.layers if layer.ens.label is not None]
    for layer in counted:
        spike_counts[layer.ens.label] = np.zeros((n_images, layer.n), dtype=np.float32)
    return counted


def _store_counts(counted, spike_counts, idx):
    """Move the counts of a presentation to the images ``idx`` it showed."""
    for layer in counted:
        spike_counts[layer.ens.label][idx] = layer.totals.reshape(-1, layer.n)
        layer.totals = None


def _present(compiled, images, n_steps, out_node, monitor_nodes, timings, counted):
    """One presentation of ``images`` (one per stream).

    The layers in ``counted`` count their spikes (``layer.totals``).

    Returns
    -------
    out_buf : ndarray
        (streams, n_steps, n_out) float32 output of every step.
    mon_buf : ndarray
        (streams, 2 * len(monitor_nodes)) sums over the steps of the monitors.
    """
    compiled.present(images)
    for layer in counted:
        layer.totals = np.zeros(len(images) * layer.n)
    out_buf = np.empty((len(images), n_steps, out_node.size_in), dtype=np.float32)
    mon_buf = np.zeros((len(images), 2 * len(monitor_nodes)))
    for t in range(n_steps):
        values = compiled.step(timings)
        out_buf[:, t] = values[out_node]
        for j, node in enumerate(monitor_nodes):
            mon_buf[:, 2 * j : 2 * j + 2] += values[node]
    return out_buf, mon_buf


@register_backend("fast")
def run_fast(
    net,
    images,
    protocol,
    monitors,
    progress=False,
    minibatch_size=100,
    dtype="float32",
    seed=0,
    dense_threshold=DENSE_THRESHOLD,
    stream_chunk=None,
    timings=None,
    spike_counts=None,
    warm_up=False,
):
    """Evaluate with event-driven sparse spike propagation (numpy/scipy).

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        Spiking network (with monitors added), as given by :func:`.evaluate`.
    images : ndarray
        (n_images, n_inputs) float32.
    protocol : `.Protocol`
    monitors : dict of str -> `nengo.Probe`
    progress : bool
        Show a progress bar over presentations.
    minibatch_size : int
        Number of parallel, independent image streams.
    dtype : str
        ``"float32"`` (default, fastest) or ``"float64"`` (nengo's precision: the
        spike trains of the reference simulator).
    seed : int
        Unused, as nothing is random (initial states come from nengo's seeds).
    dense_threshold : float
        Maps at least this dense are stored as dense arrays.
    stream_chunk : int, "auto" or None
        Simulate the streams this many at a time (each chunk through all its
        images, then the next): the same results as all at once (streams are
        independent), with smaller arrays that stay in cache. ``"auto"``: about
        2**18 neurons per chunk; None: all ``minibatch_size`` streams at once.
    timings : dict, optional
        Seconds per phase are added to it (currents, lif, readout, synapses, setup).
    spike_counts : dict, optional
        Filled with each labelled ensemble's spikes per neuron and presentation,
        ``{label: (n_images, n_neurons) array}``.
    warm_up : bool
        Begin each stream with the image before its first one (its output
        discarded), so that every image follows the one before it (the first
        follows the last) as in a single stream, whatever ``minibatch_size``.

    Returns
    -------
    outputs : ndarray
        (n_images, n_steps, n_out) float32 output of every step.
    monitor_sums : ndarray
        (n_images, 2 * len(monitors)): per presentation, the sum over its steps of
        each monitor node's output.

    Raises
    ------
    TypeError
        If the network is not a feed-forward network of spiking layers with
        linear connections (see :func:`compile_network`).
    """
    del seed
    if len(images) == 0:
        return _no_outputs(net, protocol, monitors)
    start = time.perf_counter()
    probes = [net.out_probe] + list(monitors.values())
    compiled = compile_network(
        net, probes, dt=protocol.dt, dtype=dtype, dense_threshold=dense_threshold
    )
    out_node = net.out_probe.target
    monitor_nodes = [p.target for p in monitors.values()]
    n_images, n_steps = len(images), protocol.n_steps
    mb, per_stream, chunk = _streams(n_images, minibatch_size, stream_chunk, compiled)
    outputs = np.zeros((n_images, n_steps, out_node.size_in), dtype=np.float32)
    sums = np.zeros((n_images, 2 * len(monitors)))
    # (first stream of chunk, k): stream b shows image b * per_stream + k, if any
    counted = _counted_layers(compiled, spike_counts, n_images)
    schedule = [(s0, k) for s0 in range(0, mb, chunk) for k in range(per_stream)]
    if timings is not None:
        timings["setup"] = timings.get("setup", 0) + time.perf_counter() - start
    with image_progress(progress, n_images, "fast", protocol) as bar:
        for s0, k in schedule:
            idx = _start_presentation(
                compiled, s0, k, mb, per_stream, chunk, n_images, protocol.reset
            )
            if idx is not None:
                present = (out_node, monitor_nodes, timings, counted)
                if warm_up and k == 0 and not protocol.reset:
                    _present(compiled, images[idx - 1], n_steps, *present)
                outputs[idx], sums[idx] = _present(
                    compiled, images[idx], n_steps, *present
                )
                _store_counts(counted, spike_counts, idx)
                done = np.arange(n_images)[idx]
                bar.update(done.size, done, outputs[done] if bar.wants_traces else None)
    return outputs, sums
