"""Run converted spiking networks on Loihi with nengo-loihi (emulator or chip).

:func:`to_loihi` turns a spiking `.SoftLIFNetwork` (from
:func:`nengo_softlif.to_spiking`) into a network that `nengo_loihi.Simulator` can
build, and importing this module registers the ``"loihi"`` evaluation backend
(:func:`run_loihi`). Without nengo-loihi, importing this module raises an
ImportError that says how to install it (``pip install nengo-softlif[loihi]``).

What changes on the way to the chip
-----------------------------------
Input
    The input node stays off chip and drives an off-chip layer of
    `nengo.SpikingRectifiedLinear` neurons, one per pixel (two, on and off, for
    signed inputs such as mean-subtracted CIFAR-10) firing at ``input_rates`` Hz
    per unit of input; their spikes, scaled by ``1 / input_rates``, average to
    the image. nengo-loihi needs this: only spikes go from the host to the chip,
    and convolutions into the chip must start from neurons. The first layer's
    weights are unchanged (on/off pairs get ``[W, -W]``); its input is filtered
    by ``input_synapse`` (5 ms), where nengo has an analog input.
Average pooling
    A pooling layer is a passthrough node with fixed sparse weights in the
    trained network, which nengo-loihi cannot merge into the next layer. A pool
    that tiles its input (size = stride, e.g. MNIST's 2x2) followed by a
    convolution is folded into it: pooling then a ``k x k`` convolution is one
    ``(2k) x (2k)`` convolution of stride 2 with the kernel spread over each
    window (exact; MNIST's conv2 then needs 32 cores instead of 13 + 4). Other
    pools (before a dense layer, where folding would multiply the layer's input
    axons by the pool area: the paper's MNIST ``fc`` layer would need 12,544 input
    axons per core instead of 3,136, and a core has 4,096; or with overlapping,
    clipped windows as CIFAR-10's 3x3/2) become a layer of on-chip
    integrate-and-fire counters (`nengo_loihi.neurons.LoihiSpikingRectifiedLinear`,
    which resets to zero like the chip): by default a counter over ``n`` inputs
    fires once per ``n`` input spikes (each adds ``(1 + 0.25 / n) / n`` of the
    threshold) with spikes of the inputs' amplitude, so it fires at the window's
    mean rate. Spikes that arrive in the step a counter crosses threshold are
    partly lost at the reset (3-6% of the pooled rate at 50 Hz inputs); counting
    fewer spikes per output spike (``pool_spikes``) sends more, smaller spikes
    but loses more to coincidences (on a partly trained MNIST network, read-out
    difference from nengo 0.045 counting 4, 0.093 counting 2, 0.18 counting 1:
    its ``fc`` layer, inhibition-dominated, is sensitive to lost spikes, less to
    the shot noise of larger spikes). Counters add
    one time step of delay and are not counted in `.evaluate`'s rates and
    operation counts (those follow the architecture).
Synapses
    Loihi filters a core's input with one first-order low-pass (no alpha
    synapse). Every `nengo.Alpha` on a connection into the chip becomes
    ``nengo.Lowpass(2 * tau)`` (or ``Lowpass(synapse_tau)``): with the same
    (unit) integral, the low-pass of twice the time constant has the same mean
    delay (``2 tau``) and the same white-noise power gain
    (``integral h^2 = 1 / (4 tau)``) as the alpha filter. It passes more of the
    regular spike trains' ripple at high rates (the alpha filter falls as
    ``1/f^2``, the low-pass as ``1/f``); :func:`synapse_comparison` measures it
    (coefficient of variation of a filtered regular spike train, Alpha(5 ms) /
    Lowpass(10 ms) / Lowpass(5 ms): 10 Hz 2.00 / 2.00 / 2.99, 50 Hz 0.43 / 0.56 /
    1.03, 100 Hz 0.13 / 0.28 / 0.56, 200 Hz 0.033 / 0.14 / 0.28; 50% step
    response after 8 / 6 / 3 ms). Connections that leave the chip (the read-out)
    keep their alpha synapse: the host filters them.
Neurons
    `nengo.LIF` runs as Loihi's discrete LIF: spikes fall on whole time steps and
    the voltage resets to zero, so a neuron's period is rounded up to whole steps
    (`nengo_loihi.neurons.LoihiLIF` gives the rates) and the refractory period is
    ``round(tau_ref / dt)`` steps; ``tau_rc`` is quantised to 12 bits. Neurons
    start at zero voltage on the chip (the copy says so, so nengo-loihi does not
    warn).
Weights
    nengo-loihi scales each core's weights so that the largest is 255, keeps
    signed 8-bit values (steps of 1/127 of the largest weight, finer for a
    synapse group whose largest weight is a power of two smaller) and quantises
    biases and thresholds likewise (:func:`quantisation_report`: on the trained
    MNIST network 0.6-1.9% RMS weight change, 0.9-2.4% of the weights rounded to
    zero; outputs change by about 4% of their mean);
    ``target="simreal"`` runs the emulator without that quantisation.
Cores
    Every on-chip layer gets a `nengo_loihi.BlockShape` chosen by
    :func:`choose_block_shapes` so that every block fits a core: at most 1,024
    compartments, 4,096 input axons, 4,096 output axons and 1,048,576 bits of
    synapse memory, counted the way nengo-loihi counts them (population axons
    for convolutions, discrete axons for dense and sparse weights; the paper's
    MNIST network needs 141 cores, CIFAR-10's 102). A layer that no block shape
    can place raises `LoihiPlacementError` naming the layer and the limit.

Measured (``benchmarks/loihi_emulator.py``, the trained MNIST network, 200 ms
per image): no error on 55 test images on the emulator, as nengo-dl on the same
images (0.8% on 500); read-outs differ from nengo-dl by 13% of their mean
(restructuring 5%, Loihi's neuron dynamics 10%, weight quantisation 4%: not
additive), and the low-pass synapses alone by 1.2%; rates within 3-9%. The
emulator handles each spike in Python: 15 s per MNIST image after a 1.5-2.5
min build, 25 s per CIFAR-10 image.

Importing nengo-loihi imports TensorFlow and nengo-dl when they are installed
(for nengo-loihi's nengo-dl neuron builders, which also need nengo-extras).
This module imports nengo-loihi with TensorFlow hidden when TensorFlow is not
imported yet, which saves 5-20 s; importing TensorFlow later works as usual.
"""

import dataclasses
import functools
import itertools
import math
import sys
import warnings

import nengo
import numpy as np
import scipy.sparse
from nengo.dists import Choice
from nengo.transforms import SparseMatrix

from nengo_softlif.compat import import_nengo_loihi
from nengo_softlif.convert import copy_network
from nengo_softlif.evaluate import _progress, register_backend
from nengo_softlif.layers import AvgPool
from nengo_softlif.loihi_emulator import vectorize_spike_delivery

__all__ = [
    "to_loihi",
    "run_loihi",
    "quantisation_report",
    "synapse_comparison",
    "loihi_synapse",
    "choose_block_shapes",
    "chip_utilisation",
    "LoihiPlan",
    "LayerPlacement",
    "LoihiPlacementError",
    "LIMITS",
]


def _import_nengo_loihi():
    """Import nengo-loihi; hide TensorFlow from it unless it is already imported."""
    if "tensorflow" in sys.modules:
        return import_nengo_loihi()
    sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError
    try:
        return import_nengo_loihi()
    finally:
        if "tensorflow" in sys.modules and sys.modules["tensorflow"] is None:
            del sys.modules["tensorflow"]


nengo_loihi = _import_nengo_loihi()

# pylint: disable=wrong-import-position,wrong-import-order
from nengo_loihi.block import (  # noqa: E402
    MAX_COMPARTMENTS,
    MAX_IN_AXONS,
    MAX_OUT_AXONS,
    MAX_SYNAPSE_BITS,
    SynapseConfig,
)
from nengo_loihi.builder.discretize import discretize_block  # noqa: E402
from nengo_loihi.neurons import (  # noqa: E402
    LoihiSpikingRectifiedLinear,
    discretize_tau_rc,
    discretize_tau_ref,
)

#: Resources of one Loihi core, as nengo-loihi 1.1 checks them.
LIMITS = {
    "compartments": MAX_COMPARTMENTS,
    "in_axons": MAX_IN_AXONS,
    "out_axons": MAX_OUT_AXONS,
    "synapse_bits": MAX_SYNAPSE_BITS,
}

_LIMIT_WORDS = {
    "compartments": "compartments (neurons)",
    "in_axons": "input axons",
    "out_axons": "output axons",
    "synapse_bits": "bits of synapse memory",
}

#: A pool counter over n inputs gets (1 + POOL_MARGIN / n) / n of its threshold per
#: input spike: n spikes cross the (strict) threshold despite 8-bit weights, n - 1
#: do not.
POOL_MARGIN = 0.25

#: nengo-loihi's default axon format for convolutions (2 axon slots per pixel).
POP_TYPE = 32


class LoihiPlacementError(ValueError):
    """A layer cannot be split into blocks that each fit a Loihi core.

    Attributes
    ----------
    layer : str
        Name of the layer.
    """

    def __init__(self, message, layer=None):
        super().__init__(message)
        self.layer = layer


# --------------------------------------------------------------------------------------
# Synapses
# --------------------------------------------------------------------------------------


def loihi_synapse(synapse, synapse_tau=None):
    """The first-order synapse that replaces ``synapse`` on the chip.

    Parameters
    ----------
    synapse : `nengo.synapses.Synapse` or None
        The synapse of a connection into the chip.
    synapse_tau : float, optional
        Time constant of the replacement low-pass; by default twice the alpha
        time constant (same mean delay and white-noise power as the alpha).

    Returns
    -------
    `nengo.Lowpass` or None
        None stays None, a low-pass stays itself, ``Alpha(tau)`` becomes
        ``Lowpass(synapse_tau or 2 * tau)``.

    Raises
    ------
    TypeError
        For other synapses (Loihi has only a first-order filter per core).
    """
    if synapse is None or isinstance(synapse, nengo.Lowpass):
        return synapse
    if isinstance(synapse, nengo.Alpha):
        return nengo.Lowpass(2 * synapse.tau if synapse_tau is None else synapse_tau)
    raise TypeError(
        f"Loihi filters on-chip inputs with one first-order low-pass; cannot map "
        f"{synapse} onto it. Use nengo.Alpha, nengo.Lowpass or None"
    )


def synapse_comparison(
    tau=0.005, synapse_tau=None, rates=(10, 20, 50, 100, 200), dt=0.001, duration=4.0
):
    """How the on-chip low-pass differs from the alpha synapse it replaces.

    Regular spike trains (as LIF neurons fire under constant input) at each rate
    are filtered by ``Alpha(tau)``, by its replacement ``Lowpass(synapse_tau or
    2 tau)`` and by ``Lowpass(tau)``; the variability is the standard deviation
    of the filtered train over its mean, after the filter has settled.

    Parameters
    ----------
    tau : float
        Alpha time constant (the paper: 5 ms).
    synapse_tau : float, optional
        Replacement time constant (default ``2 * tau``).
    rates : sequence of float
        Firing rates (Hz).
    dt, duration : float
        Time step and length (s) of the filtered trains.

    Returns
    -------
    dict
        ``synapses``: names; ``mean_delay_s`` and ``noise_power`` (integral of the
        squared impulse response, 1/s) per synapse; ``step_response_ms``: steps to
        10, 50 and 90% of a step per synapse; ``variability``: rate -> coefficient
        of variation per synapse.
    """
    chip = loihi_synapse(nengo.Alpha(tau), synapse_tau)
    synapses = {
        f"Alpha({tau:g})": nengo.Alpha(tau),
        f"Lowpass({chip.tau:g})": chip,
        f"Lowpass({tau:g})": nengo.Lowpass(tau),
    }
    n = int(round(duration / dt))
    result = {
        "synapses": list(synapses),
        "mean_delay_s": {},
        "noise_power": {},
        "step_response_ms": {},
        "variability": {},
    }
    with warnings.catch_warnings():
        # nengo 3.2's filt warns on numpy >= 1.25 (array-to-scalar conversion)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _compare_synapses(synapses, rates, dt, n, result)


def _compare_synapses(synapses, rates, dt, n, result):
    for name, syn in synapses.items():
        alpha = isinstance(syn, nengo.Alpha)
        result["mean_delay_s"][name] = (2 if alpha else 1) * syn.tau
        result["noise_power"][name] = 1 / ((4 if alpha else 2) * syn.tau)
        step = syn.filt(np.ones(int(round(0.2 / dt))), dt=dt, y0=0)
        result["step_response_ms"][name] = [
            float(np.argmax(step >= q) * dt * 1000) for q in (0.1, 0.5, 0.9)
        ]
    for rate in rates:
        spikes = np.zeros(n)
        times = np.arange(0.0123, n * dt, 1.0 / rate)  # phase off the grid
        spikes[(times / dt).astype(int)] = 1 / dt
        row = {}
        for name, syn in synapses.items():
            filtered = syn.filt(spikes, dt=dt, y0=0)[n // 2 :]
            row[name] = float(filtered.std() / filtered.mean())
        result["variability"][float(rate)] = row
    return result


# --------------------------------------------------------------------------------------
# Counting what a block needs (mirrors nengo_loihi.builder.split_blocks and conv)
# --------------------------------------------------------------------------------------


@functools.cache
def _axon_bits(n_weights, compression, idx_bits=6):
    """Synapse memory (bits) of one input axon with ``n_weights`` weights."""
    cfg = SynapseConfig(
        weight_bits=7,
        compression=compression,
        n_synapses=63,
        fanout_type=1,
        idx_bits=SynapseConfig.INDEX_BITS_MAP.index(idx_bits),
    )
    return cfg.bits_per_axon(int(n_weights))


def _index_bits(max_index):
    bits = max(int(math.ceil(math.log2(max_index + 1))), 0)
    return max(bits, SynapseConfig.INDEX_BITS_MAP[1])


def _ranges(size, block):
    return [(s, min(s + block, size)) for s in range(0, size, block)]


def _blocks(shape, block_shape):
    """Blocks in nengo-loihi's order: tuples of (start, stop) per dimension."""
    return list(
        itertools.product(
            *(_ranges(n, b) for n, b in zip(shape, block_shape, strict=True))
        )
    )


def _n_blocks(shape, block_shape):
    return int(np.prod([-(-n // b) for n, b in zip(shape, block_shape, strict=True)]))


def _block_ids(shape, block_shape):
    """Block index of every neuron (flat, row-major order)."""
    idx = np.indices(shape).reshape(len(shape), -1)
    splits = tuple(-(-n // b) for n, b in zip(shape, block_shape, strict=True))
    return np.ravel_multi_index(
        tuple(idx[d] // block_shape[d] for d in range(len(shape))), splits
    )


class _DenseLink:
    """Dense weights (nengo.Dense): every presynaptic neuron reaches every block."""

    def __init__(self, n_pre, n_post):
        self.n_pre, self.n_post = n_pre, n_post

    def min_in_axons(self):
        return self.n_pre

    def post_usage(self, shape, block_shape):
        sizes = np.array(
            [np.prod([b - a for a, b in blk]) for blk in _blocks(shape, block_shape)]
        )
        in_axons = np.full(len(sizes), self.n_pre)
        bits = np.array([self.n_pre * _axon_bits(s, 3) for s in sizes])
        return in_axons, bits

    def pre_out_axons(self, pre_shape, pre_block, post_shape, post_block):
        sizes = np.bincount(_block_ids(pre_shape, pre_block))
        return sizes * _n_blocks(post_shape, post_block)


class _SparseLink:
    """Sparse weights (pooling, locally-connected, identity): discrete axons.

    When nengo-loihi splits a block it stores identical (weights, targets) rows
    of different axons once; that matters for pooling (equal weights) and is
    modelled when the weights take few distinct values. Trained weights are all
    different, and their rows are counted one by one.
    """

    def __init__(self, rows, cols, values, n_pre, n_post):
        coo = scipy.sparse.coo_matrix((values, (cols, rows)), shape=(n_pre, n_post))
        self.matrix = coo.tocsr()  # (pre, post) weights
        self.matrix.sum_duplicates()
        self.n_pre, self.n_post = n_pre, n_post
        self.dedup = len(np.unique(self.matrix.data)) <= 16

    def min_in_axons(self):
        return int(np.diff(self.matrix.tocsc().indptr).max(initial=0))

    def _counts(self, post_shape, post_block):
        ids = _block_ids(post_shape, post_block)
        n_blocks = int(ids.max()) + 1
        onehot = scipy.sparse.csr_matrix(
            (np.ones(self.n_post), (np.arange(self.n_post), ids)),
            shape=(self.n_post, n_blocks),
        )
        pattern = self.matrix.copy()
        pattern.data[:] = 1
        return (pattern @ onehot).tocoo(), n_blocks, ids  # (pre, block) -> n weights

    def _dedup_bits(self, ids, n_blocks):
        coo = self.matrix.tocoo()
        block = ids[coo.col]
        order = np.lexsort((coo.col, coo.row, block))
        pre, post, val, block = (
            coo.row[order],
            coo.col[order],
            coo.data[order],
            block[order],
        )
        starts = np.flatnonzero(
            np.r_[True, (np.diff(pre) != 0) | (np.diff(block) != 0)]
        )
        ends = np.r_[starts[1:], len(pre)]
        seen = [set() for _ in range(n_blocks)]
        bits = np.zeros(n_blocks)
        for a, b in zip(starts, ends, strict=True):
            key = (post[a:b].tobytes(), val[a:b].tobytes())
            k = block[a]
            if key not in seen[k]:
                seen[k].add(key)
                bits[k] += _axon_bits(b - a, 3)
        return bits

    def post_usage(self, shape, block_shape):
        counts, n_blocks, ids = self._counts(shape, block_shape)
        if n_blocks == 1:  # not split: one axon (and weight row) per presynaptic neuron
            in_axons = np.array([self.n_pre])
        else:
            in_axons = np.bincount(counts.col, minlength=n_blocks)
        if n_blocks > 1 and self.dedup:
            bits = self._dedup_bits(ids, n_blocks)
        else:
            sizes, inverse = np.unique(counts.data.astype(int), return_inverse=True)
            per_axon = np.array([_axon_bits(n, 3) for n in sizes])[inverse]
            bits = np.bincount(counts.col, weights=per_axon, minlength=n_blocks)
        return in_axons, bits

    def pre_out_axons(self, pre_shape, pre_block, post_shape, post_block):
        pre_ids = _block_ids(pre_shape, pre_block)
        counts, n_blocks, _ = self._counts(post_shape, post_block)
        if n_blocks == 1:
            return np.bincount(pre_ids)
        return np.bincount(pre_ids[counts.row], minlength=int(pre_ids.max()) + 1)


class _ConvLink:
    """nengo.Convolution: population (shared-weight) axons, one per input pixel."""

    def __init__(self, transform):
        if not transform.channels_last:
            raise NotImplementedError("Only channels_last convolutions are supported")
        self.in_shape = tuple(transform.input_shape.shape)
        self.out_shape = tuple(transform.output_shape.shape)
        self.kernel = tuple(transform.kernel_size)
        self.axes = [
            self._axis(n_in, n_out, k, s, transform.padding)
            for n_in, n_out, k, s in zip(
                self.in_shape[:2],
                self.out_shape[:2],
                transform.kernel_size,
                transform.strides,
                strict=True,
            )
        ]

    @staticmethod
    def _axis(n_in, n_out, kernel, stride, padding):
        """Per input index: (output index, kernel index) pairs, as conv2d_loihi_weights."""
        pad = (
            max((n_out - 1) * stride + kernel - n_in, 0) // 2
            if padding == "same"
            else 0
        )
        ri_max = (n_out - 1) * stride + 1
        reach = []
        for i in range(n_in):
            ri0 = i + pad + 1 - kernel
            reach.append(
                [
                    (ri // stride, k)
                    for k, ri in enumerate(range(ri0, ri0 + kernel))
                    if 0 <= ri < ri_max and ri % stride == 0
                ]
            )
        return reach

    def min_in_axons(self):
        return 1

    def _touch(self, axis, start, stop):
        """Inputs reaching outputs [start, stop): (key, first, last, count) each."""
        out = []
        for targets in self.axes[axis]:
            inside = [(y, k) for y, k in targets if start <= y < stop]
            if inside:
                out.append(
                    (
                        tuple(k for _, k in inside),
                        inside[0][0],
                        inside[-1][0],
                        len(inside),
                    )
                )
        return out

    def _touch_count(self, axis, start, stop):
        return np.array(
            [any(start <= y < stop for y, _ in targets) for targets in self.axes[axis]]
        )

    def post_usage(self, shape, block_shape):
        assert tuple(shape) == self.out_shape
        n_channels = self.in_shape[2]
        blocks = _blocks(shape, block_shape)
        single = len(blocks) == 1
        cache = {}
        in_axons, bits = [], []
        touch = {}
        for (r0, r1), (c0, c1), (f0, f1) in blocks:
            width, depth = c1 - c0, f1 - f0
            key = (r0, r1, c0, c1, depth)
            if key not in cache:
                rows = touch.setdefault((0, r0, r1), self._touch(0, r0, r1))
                cols = touch.setdefault((1, c0, c1), self._touch(1, c0, c1))
                sets, max_index = {}, 0
                for rkey, rfirst, rlast, rn in rows:
                    for ckey, cfirst, clast, cn in cols:
                        first = ((rfirst - r0) * width + (cfirst - c0)) * depth
                        last = ((rlast - r0) * width + (clast - c0)) * depth + depth - 1
                        offset = first - first % 256
                        sets[(rkey, ckey, offset)] = n_channels * rn * cn * depth
                        max_index = max(max_index, last - first % 256)
                idx_bits = _index_bits(max_index)
                total = (
                    sum(_axon_bits(n, 0, idx_bits) for n in sets.values())
                    if idx_bits <= SynapseConfig.INDEX_BITS_MAP[-1]
                    else np.inf
                )
                n_axons = (
                    self.in_shape[0] * self.in_shape[1]
                    if single
                    else len(rows) * len(cols)
                )
                cache[key] = (n_axons, total)
            in_axons.append(cache[key][0])
            bits.append(cache[key][1])
        return np.array(in_axons), np.array(bits, dtype=float)

    def pre_out_axons(self, pre_shape, pre_block, post_shape, post_block):
        slots = 2 if POP_TYPE == 32 else 1
        post_blocks = _blocks(post_shape, post_block)
        n_filter_ranges = len(_ranges(post_shape[2], post_block[2]))
        spatial = sorted({(r, c) for r, c, _ in post_blocks})
        touch_r = {r: self._touch_count(0, *r) for r, _ in spatial}
        touch_c = {c: self._touch_count(1, *c) for _, c in spatial}
        out = []
        for (a0, a1), (b0, b1), _ in _blocks(pre_shape, pre_block):
            if len(post_blocks) == 1:
                n = (a1 - a0) * (b1 - b0)
            else:
                n = n_filter_ranges * sum(
                    int(touch_r[r][a0:a1].sum()) * int(touch_c[c][b0:b1].sum())
                    for r, c in spatial
                )
            out.append(slots * n)
        return np.array(out)


def _sparse_parts(transform, shape_out, shape_in):
    """(rows, cols, values) of a Sparse, Dense or identity transform."""
    if isinstance(transform, nengo.Sparse):
        init = transform.init
        if isinstance(init, SparseMatrix):
            return init.indices[:, 0], init.indices[:, 1], np.asarray(init.data, float)
        coo = init.tocoo()  # nengo.Sparse holds a SparseMatrix or a scipy matrix
        return coo.row, coo.col, coo.data.astype(float)
    if isinstance(transform, nengo.transforms.NoTransform):
        n = shape_in
        return np.arange(n), np.arange(n), np.ones(n)
    if isinstance(transform, nengo.Dense):
        weights = np.asarray(transform.init, dtype=float)
        if weights.ndim < 2:
            n = shape_in
            return np.arange(n), np.arange(n), np.broadcast_to(weights, (n,)).copy()
        rows, cols = np.nonzero(np.ones_like(weights, dtype=bool))
        return rows, cols, weights[rows, cols]
    raise NotImplementedError(f"Unsupported transform {type(transform).__name__}")


def _link(conn):
    transform = conn.transform
    if isinstance(transform, nengo.Convolution):
        return _ConvLink(transform)
    n_pre, n_post = conn.pre_obj.size_out, conn.post_obj.size_in
    if isinstance(transform, nengo.Dense) and np.ndim(transform.init) == 2:
        return _DenseLink(n_pre, n_post)
    rows, cols, values = _sparse_parts(transform, n_post, n_pre)
    return _SparseLink(rows, cols, values, n_pre, n_post)


# --------------------------------------------------------------------------------------
# Block shapes
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class LayerPlacement:
    """How one on-chip layer is split into blocks (one block per core).

    Attributes
    ----------
    name : str
        Layer name (``pool1`` for the counters of a pooling layer).
    shape : tuple of int
        Shape of the layer's neurons.
    block_shape : tuple of int
        Shape of each block (`nengo_loihi.BlockShape`).
    n_blocks : int
        Number of blocks, i.e. cores.
    usage : dict of str -> int
        Largest use of each core resource over the blocks (see :data:`LIMITS`).
    """

    name: str
    shape: tuple
    block_shape: tuple
    n_blocks: int
    usage: dict

    @property
    def utilisation(self):
        """Largest fraction of any core resource used by any block."""
        return max(self.usage[k] / LIMITS[k] for k in LIMITS)

    def broken_limits(self):
        """Resources above the core limits: name -> (needed, limit)."""
        return {k: (v, LIMITS[k]) for k, v in self.usage.items() if v > LIMITS[k]}


@dataclasses.dataclass
class LoihiPlan:
    """What :func:`to_loihi` did to a network.

    Attributes
    ----------
    layers : dict of str -> LayerPlacement
        On-chip layers in order (conv, pool counters, dense ...).
    input_rates : float
        Rate (Hz) of an input spike generator per unit of input.
    signed_input : bool
        Whether inputs are split into on/off generators.
    synapses : dict of str -> (str, str)
        Connection label -> (original synapse, on-chip synapse).
    ensembles : dict of str -> `nengo.Ensemble`
        On-chip ensembles by layer name.
    input_ensemble : `nengo.Ensemble`
        The off-chip spike generators.
    folded_pools : dict of str -> str
        Pooling layers folded into the next layer (pool -> layer).
    """

    layers: dict
    input_rates: float
    signed_input: bool
    synapses: dict
    ensembles: dict
    input_ensemble: object = None
    folded_pools: dict = dataclasses.field(default_factory=dict)

    @property
    def n_cores(self):
        """Cores (blocks) used by the on-chip layers."""
        return sum(p.n_blocks for p in self.layers.values())

    def summary(self):
        """A table of the layers, their blocks and their largest core usage."""
        lines = [
            f"{'layer':<10}{'neurons':>9}  {'block shape':<14}{'cores':>6}"
            f"{'compart.':>10}{'in-axons':>10}{'out-axons':>10}{'syn. bits':>11}"
        ]
        for p in self.layers.values():
            u = p.usage
            lines.append(
                f"{p.name:<10}{int(np.prod(p.shape)):>9}  {str(p.block_shape):<14}"
                f"{p.n_blocks:>6}{u['compartments']:>10}{u['in_axons']:>10}"
                f"{u['out_axons']:>10}{int(u['synapse_bits']):>11}"
            )
        lines.append(f"total cores: {self.n_cores}")
        return "\n".join(lines)


def _candidates(shape):
    """Block shapes with at most MAX_COMPARTMENTS, fewest blocks first."""
    per_dim = [
        sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True) for n in shape
    ]
    found = []
    for block in itertools.product(*per_dim):
        if np.prod(block) <= MAX_COMPARTMENTS:
            # fewer cores first; then the squarer spatial block (less halo)
            spatial = block[:2] if len(block) == 3 else block
            found.append((_n_blocks(shape, block), -min(spatial), block))
    found.sort()
    return [(n, block) for n, _, block in found]


def _usage(layer, block_shape, post):
    """Largest use of each resource over the blocks of ``layer`` with ``block_shape``."""
    name, shape, link = layer
    comps = max(np.prod([b - a for a, b in blk]) for blk in _blocks(shape, block_shape))
    in_axons, bits = link.post_usage(shape, block_shape)
    out_axons = np.zeros(_n_blocks(shape, block_shape))
    for post_shape, post_block, post_link in post:
        out_axons = out_axons + post_link.pre_out_axons(
            shape, block_shape, post_shape, post_block
        )
    return {
        "compartments": int(comps),
        "in_axons": int(in_axons.max()),
        "out_axons": int(out_axons.max(initial=0)),
        "synapse_bits": float(bits.max()),
    }


def _fits(usage):
    return all(usage[k] <= LIMITS[k] for k in LIMITS)


def _placement_error(name, shape, usage, block_shape):
    broken = {k: usage[k] for k in LIMITS if usage[k] > LIMITS[k]}
    parts = [
        f"{_LIMIT_WORDS[k]}: {int(v)} needed, {LIMITS[k]} per core"
        for k, v in broken.items()
    ]
    hints = []
    if "in_axons" in broken:
        hints.append(
            "every core holding part of a dense or sparse layer needs one input axon "
            "per presynaptic neuron, so the layer feeding it must have fewer neurons "
            "(pool or downsample before it)"
        )
    if "out_axons" in broken:
        hints.append(
            "its neurons project to too many cores of the next layer; give the next "
            "layer larger blocks or this layer fewer neurons per block"
        )
    if "synapse_bits" in broken:
        hints.append("its weights do not fit in the synapse memory of the cores")
    return LoihiPlacementError(
        f"Layer {name!r} (shape {tuple(shape)}) cannot be placed on Loihi cores: "
        f"with block shape {tuple(block_shape)} it needs more than a core has ("
        + "; ".join(parts)
        + "). "
        + "; ".join(hints),
        layer=name,
    )


def choose_block_shapes(layers, fixed=None):
    """Choose a block shape for each on-chip layer so that every block fits a core.

    Layers are placed from the last to the first, because a layer's output axons
    depend on how many blocks of the next layer each of its neurons reaches. For
    each layer the block shapes are tried from the fewest blocks up; among the
    shapes with the fewest blocks that fit, the one with the lowest largest
    resource use is taken.

    Parameters
    ----------
    layers : list of (name, shape, link, pre_name)
        On-chip layers in order; ``link`` describes the incoming weights and
        ``pre_name`` is the on-chip layer they come from (None if off chip).
    fixed : dict of str -> tuple, optional
        Block shapes given by the user; they are checked, not searched.

    Returns
    -------
    dict of str -> LayerPlacement

    Raises
    ------
    LoihiPlacementError
        Naming the first layer (from the end) that cannot be placed and the limit.
    """
    fixed = fixed or {}
    by_name = {name: (name, shape, link) for name, shape, link, _ in layers}
    targets = {name: [] for name, _, _, _ in layers}
    for name, _, _, pre in layers:
        if pre is not None:
            targets[pre].append(name)
    chosen = {}
    for name, shape, link, _ in reversed(layers):
        post = [
            (by_name[t][1], chosen[t].block_shape, by_name[t][2]) for t in targets[name]
        ]
        if name in fixed:
            block = tuple(int(b) for b in fixed[name])
            if len(block) != len(shape):
                raise ValueError(
                    f"Block shape {block} for layer {name!r} must have "
                    f"{len(shape)} dimensions like the layer's shape {tuple(shape)}"
                )
            usage = _usage(by_name[name], block, post)
            if not _fits(usage):
                raise _placement_error(name, shape, usage, block)
            chosen[name] = LayerPlacement(
                name, tuple(shape), block, _n_blocks(shape, block), usage
            )
            continue
        if link.min_in_axons() > MAX_IN_AXONS:
            block = (1,) * len(shape)
            usage = {
                "compartments": 1,
                "in_axons": link.min_in_axons(),
                "out_axons": 0,
                "synapse_bits": 0,
            }
            raise _placement_error(name, shape, usage, block)
        best = None
        for n_blocks, group in itertools.groupby(
            _candidates(shape), key=lambda c: c[0]
        ):
            scored = []
            for _, block in group:
                usage = _usage(by_name[name], block, post)
                score = max(usage[k] / LIMITS[k] for k in LIMITS)
                if best is None or score < best[0]:
                    best = (score, block, usage)
                if _fits(usage):
                    scored.append((score, block, usage))
            if scored:
                score, block, usage = min(scored, key=lambda s: s[0])
                chosen[name] = LayerPlacement(
                    name, tuple(shape), block, n_blocks, usage
                )
                break
        else:
            raise _placement_error(name, shape, best[2], best[1])
    return {name: chosen[name] for name, _, _, _ in layers}


# --------------------------------------------------------------------------------------
# Network conversion
# --------------------------------------------------------------------------------------


def _check_network(net):
    for attr in ("architecture", "layers", "inp", "out", "out_probe"):
        if not hasattr(net, attr):
            raise TypeError(
                "to_loihi needs a SoftLIFNetwork (from build_network / to_spiking / "
                f"load_network); {type(net).__name__} has no {attr!r}"
            )
    if getattr(net, "loihi_plan", None) is not None:
        raise ValueError("This network was already prepared by to_loihi")
    rate = sorted(
        f"{name} ({type(ens.neuron_type).__name__})"
        for name, ens in net.layer_ensembles.items()
        if not isinstance(ens.neuron_type, (nengo.LIF, nengo.SpikingRectifiedLinear))
    )
    if rate:
        spiking = any(ens.neuron_type.spiking for ens in net.layer_ensembles.values())
        raise TypeError(
            f"Loihi runs spiking LIF or SpikingRectifiedLinear neurons; layer(s) "
            f"{', '.join(rate)} are not. "
            + (
                "Train with SoftLIFRate (or RectifiedLinear) neurons to deploy on "
                "Loihi: their spiking equivalents run there"
                if spiking
                else "Convert the network with nengo_softlif.to_spiking first"
            )
        )
    if isinstance(net.architecture.layers[0], AvgPool):
        raise NotImplementedError(
            "An AvgPool directly on the input cannot run on Loihi: pool the images "
            "before presenting them, or start the architecture with a layer of neurons"
        )


def _remove(net, objs):
    objs = set(objs)
    for sub in [net, *net.all_networks]:
        for container in (sub.connections, sub.nodes, sub.ensembles):
            for obj in [o for o in container if o in objs]:
                container.remove(obj)


def _on_off_generators(input_shape, n_in):
    """Index of the on and the off generator of every input.

    Channels-last images get, per pixel, the on generators of all channels then
    the off ones (so the first convolution sees ``2 * channels`` channels); any
    other input shape is one channel.
    """
    channels = input_shape[-1] if len(input_shape) == 3 else 1
    flat = np.arange(n_in)
    on = (flat // channels) * 2 * channels + flat % channels
    return on, on + channels


def _signed_transform(transform, input_shape, n_in):
    """The transform from on/off generators (2 per input, channels-last) to post."""
    on, off = _on_off_generators(input_shape, n_in)
    if isinstance(transform, nengo.Convolution):
        kernel = np.asarray(transform.init)
        height, width = transform.input_shape.spatial_shape
        return nengo.Convolution(
            n_filters=transform.n_filters,
            input_shape=(height, width, 2 * transform.input_shape.n_channels),
            kernel_size=transform.kernel_size,
            strides=transform.strides,
            padding=transform.padding,
            channels_last=True,
            init=np.concatenate([kernel, -kernel], axis=2),
        )
    if isinstance(transform, nengo.Dense) and np.ndim(transform.init) == 2:
        weights = np.asarray(transform.init)
        signed = np.zeros((weights.shape[0], 2 * n_in))
        signed[:, on] = weights
        signed[:, off] = -weights
        return nengo.Dense(signed.shape, init=signed)
    n_post = transform.size_out if hasattr(transform, "size_out") else n_in
    rows, cols, values = _sparse_parts(transform, n_post, n_in)
    return nengo.Sparse(
        (n_post, 2 * n_in),
        indices=np.concatenate(
            [np.stack([rows, on[cols]], 1), np.stack([rows, off[cols]], 1)]
        ),
        init=np.concatenate([values, -values]),
    )


def _lif_starting_at_zero(neuron_type):
    """The same neuron type, with the chip's zero initial voltage."""
    params = {
        p.name: getattr(neuron_type, p.name)
        for p in neuron_type._params  # noqa: SLF001
        if p.name != "initial_state"
    }
    state = {"voltage": Choice([0])}
    if isinstance(neuron_type, nengo.LIF):
        state["refractory_time"] = Choice([0])
    return type(neuron_type)(initial_state=state, **params)


def _add_input_spikes(net, signed, input_rates, input_synapse):
    inp = net.inp
    n_in = inp.size_out
    n_gen = 2 * n_in if signed else n_in
    out_conns = [c for c in net.all_connections if c.pre_obj is inp]
    with net:
        gen = nengo.Ensemble(
            n_gen,
            1,
            neuron_type=nengo.SpikingRectifiedLinear(amplitude=1.0 / input_rates),
            gain=np.full(n_gen, float(input_rates)),
            bias=np.zeros(n_gen),
            label="input.spikes",
        )
        net.config[gen].on_chip = False
        if signed:
            flat = np.arange(n_in)
            on, off = _on_off_generators(net.architecture.input_shape, n_in)
            to_gen = nengo.Sparse(
                (n_gen, n_in),
                indices=np.concatenate(
                    [np.stack([on, flat], 1), np.stack([off, flat], 1)]
                ),
                init=np.concatenate([np.ones(n_in), -np.ones(n_in)]),
            )
        else:
            to_gen = nengo.transforms.NoTransform(n_in)
        nengo.Connection(
            inp, gen.neurons, transform=to_gen, synapse=None, label="input.to_spikes"
        )
        replaced = {}
        for conn in out_conns:
            transform = conn.transform
            if signed:
                transform = _signed_transform(
                    transform, net.architecture.input_shape, n_in
                )
            replaced[conn] = nengo.Connection(
                gen.neurons,
                conn.post,
                transform=transform,
                synapse=input_synapse,
                label=conn.label,
            )
    _remove(net, out_conns)
    _update_layer_connections(net, replaced)
    return gen


def _update_layer_connections(net, replaced):
    """Point ``net.layers[...].connection`` at the connections that replaced theirs."""
    for built in net.layers.values():
        if getattr(built, "connection", None) in replaced:
            built.connection = replaced[built.connection]


def _pool_counters(net, name, built, pool_spikes=None):
    """Replace a pooling node by on-chip counters; return the new ensemble.

    A counter over a window of ``n`` inputs (``n_max`` in the largest window)
    fires once per ``k_i = pool_spikes * n / n_max`` input spikes, with spikes of
    amplitude ``pool_spikes * a / n_max``: its output averages to the window's
    mean input ``a * mean(rate)``.
    """
    node, conn_in = built.output, built.connection
    pre = conn_in.pre_obj
    if not isinstance(pre, nengo.ensemble.Neurons):
        raise NotImplementedError(
            f"Pooling layer {name!r} must follow a layer of neurons"
        )
    amplitude = getattr(pre.ensemble.neuron_type, "amplitude", 1.0)
    rows, cols, values = _sparse_parts(conn_in.transform, node.size_in, pre.size_out)
    counts = np.bincount(rows, minlength=node.size_in)
    if np.any(counts == 0):
        raise ValueError(f"Pooling layer {name!r} has outputs without inputs")
    if not np.allclose(values, 1.0 / counts[rows]):
        raise ValueError(f"Pooling layer {name!r} does not average its windows")
    n_max = int(counts.max())
    if pool_spikes is None:
        pool_spikes = n_max
    per_spike = pool_spikes * counts / n_max  # input spikes per output spike
    if pool_spikes < 1 or not np.allclose(per_spike, np.round(per_spike)):
        raise ValueError(
            f"pool_spikes={pool_spikes} for pooling layer {name!r}: every window "
            f"must count a whole number of input spikes per output spike "
            f"(windows of {sorted(set(counts.tolist()))} inputs); use "
            f"pool_spikes={n_max} (count to the window size) or a value that "
            "divides evenly"
        )
    per_spike = np.round(per_spike)
    out_conns = [c for c in net.all_connections if c.pre_obj is node]
    with net:
        ens = nengo.Ensemble(
            node.size_in,
            1,
            neuron_type=LoihiSpikingRectifiedLinear(
                amplitude=pool_spikes * amplitude / n_max
            ),
            gain=counts * (1.0 + POOL_MARGIN / per_spike) / (per_spike * amplitude),
            bias=np.zeros(node.size_in),
            label=name,
        )
        nengo.Connection(
            conn_in.pre,
            ens.neurons,
            transform=conn_in.transform,
            synapse=None,
            label=conn_in.label,
        )
        replaced = {}
        for conn in out_conns:
            synapse = conn_in.synapse if conn.synapse is None else conn.synapse
            replaced[conn] = nengo.Connection(
                ens.neurons,
                conn.post,
                transform=conn.transform,
                synapse=synapse,
                label=conn.label,
            )
    _remove(net, [node, conn_in, *out_conns])
    _update_layer_connections(net, replaced)
    built.output = ens.neurons
    built.connection = None
    return ens


def _folded_conv(pool, in_shape, conv):
    """The convolution equal to average pooling then ``conv``, or None.

    Exact when the pool tiles its input (size = stride, no clipped window) and
    the convolution's padding maps onto whole pooling windows.
    """
    size = pool.size
    stride = size if pool.stride is None else pool.stride
    if not isinstance(conv, nengo.Convolution) or not conv.channels_last:
        return None
    height, width, channels = in_shape
    if stride != size or height % size or width % size:
        return None
    if conv.padding == "same" and size > 1:
        for n, k, t in zip(
            (height // size, width // size), conv.kernel_size, conv.strides, strict=True
        ):
            out = -(-n // t)
            if max((out - 1) * t + k - n, 0) % 2:
                return None  # odd padding cannot be split into whole windows
    kernel = np.asarray(conv.init, dtype=float)
    kernel = np.repeat(np.repeat(kernel, size, axis=0), size, axis=1) / size**2
    return nengo.Convolution(
        n_filters=conv.n_filters,
        input_shape=(height, width, channels),
        kernel_size=tuple(k * size for k in conv.kernel_size),
        strides=tuple(t * size for t in conv.strides),
        padding=conv.padding,
        channels_last=True,
        init=kernel,
    )


def _foldable_pools(net):
    """Pooling layers that fold exactly into the next layer: pool -> next name."""
    names = net.architecture.layer_names()
    specs = net.architecture.layers
    fold = {}
    for i, (name, spec) in enumerate(zip(names, specs, strict=True)):
        if not isinstance(spec, AvgPool) or i == 0 or i + 1 >= len(specs):
            continue
        in_shape = tuple(net.layers[names[i - 1]].shape)
        conn = net.layers[names[i + 1]].connection
        if (
            conn is not None
            and _folded_conv(spec, in_shape, conn.transform) is not None
        ):
            fold[name] = names[i + 1]
    return fold


def _fold_pool(net, name, spec, built, next_built, in_shape):
    """Replace pooling + the next convolution by one folded convolution."""
    conn_in, conn_next = built.connection, next_built.connection
    transform = _folded_conv(spec, in_shape, conn_next.transform)
    with net:
        new = nengo.Connection(
            conn_in.pre,
            conn_next.post,
            transform=transform,
            synapse=conn_in.synapse if conn_next.synapse is None else conn_next.synapse,
            label=conn_next.label,
        )
    _remove(net, [built.output, conn_in, conn_next])
    built.output, built.connection = conn_in.pre, None
    next_built.connection = new


def to_loihi(
    spiking_net,
    synapse_tau=None,
    block_shapes=None,
    input_rates=1000.0,
    signed_input=False,
    input_synapse=nengo.Lowpass(0.005),
    fold_pooling=True,
    pool_spikes=None,
    copy=True,
):
    """A copy of a spiking network, ready for `nengo_loihi.Simulator`.

    See the module documentation for every change. The result keeps the
    attributes of a `.SoftLIFNetwork` (``inp``, ``out``, ``out_probe``,
    ``layers``, ``layer_ensembles``, ``architecture``) and adds ``loihi_plan``
    (a `.LoihiPlan`).

    Parameters
    ----------
    spiking_net : `.SoftLIFNetwork`
        A spiking network (:func:`nengo_softlif.to_spiking`) of LIF or spiking
        rectified-linear neurons.
    synapse_tau : float, optional
        Time constant of the low-pass that replaces each alpha synapse on the
        chip; by default twice the alpha's (see :func:`loihi_synapse`).
    block_shapes : dict of str -> tuple, optional
        Block shape of some on-chip layers (by layer name, pool counters by the
        pool's name); the others are chosen by :func:`choose_block_shapes`.
    input_rates : float
        Firing rate (Hz) of an input spike generator for an input of 1. Loihi
        receives at most one spike per generator and step, so keep
        ``input_rates * max|input| <= 1 / dt``.
    signed_input : bool
        Use an on and an off generator per input (needed when inputs can be
        negative, e.g. mean-subtracted images).
    input_synapse : `nengo.Lowpass` or None
        Filter of the input spikes into the first layer (the first layer's core
        filter; nengo has none there, its input is analog). 5 ms smooths the
        generators' ripple.
    fold_pooling : bool
        Fold each average pooling that tiles its input exactly into the
        convolution after it (exact, no counters), unless the folded layer cannot
        be placed; other pools become counters.
    pool_spikes : int, optional
        Input spikes per output spike of a pool counter over the largest window
        (by default the window size: the counter fires at the mean rate). Smaller
        values send more, smaller spikes (less shot noise downstream) but lose
        more spikes that arrive in the same step; every window must count a whole
        number of spikes, so clipped windows need the default.
    copy : bool
        Work on a copy (True) or change ``spiking_net`` in place (after the same
        conversion succeeded on a scratch copy: an error leaves it unchanged).

    Returns
    -------
    `.SoftLIFNetwork`

    Raises
    ------
    LoihiPlacementError
        If a layer cannot be split into blocks that fit Loihi cores.
    TypeError
        For rate neurons, unsupported synapses or a network of another kind.
    """
    _check_network(spiking_net)
    if not input_rates > 0:
        raise ValueError(f"input_rates must be > 0 (got {input_rates})")
    options = dict(
        synapse_tau=synapse_tau,
        block_shapes=block_shapes,
        input_rates=input_rates,
        signed_input=signed_input,
        input_synapse=input_synapse,
        pool_spikes=pool_spikes,
    )
    fold = _foldable_pools(spiking_net) if fold_pooling else {}
    names = spiking_net.architecture.layer_names()
    pool_input = {name: names[names.index(name) - 1] for name in fold}
    while True:
        # convert a scratch copy (an error leaves the user's network untouched);
        # unfold a pool when its folded layer, or the layer feeding it (more
        # output axons), does not fit
        try:
            trial = _convert(copy_network(spiking_net), fold, **options)
        except LoihiPlacementError as err:
            pools = [
                pool
                for pool, layer in fold.items()
                if err.layer in (layer, pool_input[pool])
            ]
            if not pools:
                raise
            del fold[pools[0]]
            continue
        break
    if copy:
        trial.label = f"{spiking_net.label} (loihi)"
        return trial
    net = _convert(spiking_net, fold, **options)  # as on the copy: it fits
    net.label = f"{spiking_net.label} (loihi)"
    return net


def _convert(
    net,
    fold,
    synapse_tau,
    block_shapes,
    input_rates,
    signed_input,
    input_synapse,
    pool_spikes,
):
    """Change ``net`` in place for nengo-loihi (see `to_loihi`)."""
    nengo_loihi.add_params(net)
    names = net.architecture.layer_names()
    specs = net.architecture.layers
    shapes = {name: tuple(net.layers[name].shape) for name in names}

    gen = _add_input_spikes(net, signed_input, input_rates, input_synapse)
    chip = {}
    for i, (name, spec) in enumerate(zip(names, specs, strict=True)):
        built = net.layers[name]
        if isinstance(spec, AvgPool):
            if name in fold:
                _fold_pool(
                    net,
                    name,
                    spec,
                    built,
                    net.layers[names[i + 1]],
                    shapes[names[i - 1]],
                )
            else:
                chip[name] = _pool_counters(net, name, built, pool_spikes)
        elif built.ensemble is not None:
            ens = built.ensemble
            ens.neuron_type = _lif_starting_at_zero(ens.neuron_type)
            chip[name] = ens

    # synapses: first-order low-pass into the chip, unchanged into the host
    chip_objs = set(chip.values())
    synapses = {}
    incoming = {}
    for conn in net.all_connections:
        post = (
            conn.post_obj.ensemble
            if isinstance(conn.post_obj, nengo.ensemble.Neurons)
            else conn.post_obj
        )
        if post in chip_objs:
            new = loihi_synapse(conn.synapse, synapse_tau)
            if new is not conn.synapse:
                synapses[str(conn.label)] = (str(conn.synapse), str(new))
                conn.synapse = new
            incoming.setdefault(post, []).append(conn)

    # block shapes
    ens_names = {ens: name for name, ens in chip.items()}
    layers = []
    for name, ens in chip.items():
        conns = incoming.get(ens, [])
        if len(conns) != 1 or not isinstance(conns[0].post_obj, nengo.ensemble.Neurons):
            raise NotImplementedError(
                f"Layer {name!r} must receive exactly one connection into its neurons"
            )
        conn = conns[0]
        pre = (
            conn.pre_obj.ensemble
            if isinstance(conn.pre_obj, nengo.ensemble.Neurons)
            else None
        )
        layers.append((name, shapes[name], _link(conn), ens_names.get(pre)))
    unknown = sorted(set(block_shapes or {}) - set(chip))
    if unknown:
        raise ValueError(
            f"block_shapes names unknown on-chip layer(s) {unknown}; the on-chip "
            f"layers are {list(chip)}"
        )
    placements = choose_block_shapes(layers, fixed=block_shapes)
    for name, ens in chip.items():
        net.config[ens].block_shape = nengo_loihi.BlockShape(
            placements[name].block_shape, shapes[name]
        )

    net.loihi_plan = LoihiPlan(
        layers=placements,
        input_rates=float(input_rates),
        signed_input=bool(signed_input),
        synapses=synapses,
        ensembles=chip,
        input_ensemble=gen,
        folded_pools=dict(fold),
    )
    return net


def chip_utilisation(net, dt=0.001):
    """Build a prepared network with nengo-loihi and read each block's usage.

    This is nengo-loihi's own count (``LoihiBlock.utilization``), to check the
    block shapes of :func:`to_loihi`; weights are not discretised.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A network from :func:`to_loihi`.
    dt : float

    Returns
    -------
    dict of str -> dict
        Per on-chip layer: ``n_blocks`` and the largest ``compartments``,
        ``in_axons``, ``out_axons``, ``synapse_bits`` over its blocks.
    """
    model = _build_model(net, dt, discretize=False)
    keys = dict(
        zip(["compartments", "in-axons", "out-axons", "synapses"], LIMITS, strict=True)
    )
    result = {}
    for name, ens in net.loihi_plan.ensembles.items():
        blocks = model.objs[ens]["in"]
        blocks = blocks if isinstance(blocks, list) else [blocks]
        usage = {k: 0 for k in LIMITS}
        for block in blocks:
            for key, (value, _) in block.utilization().items():
                usage[keys[key]] = max(usage[keys[key]], int(value))
        result[name] = {"n_blocks": len(blocks), **usage}
    return result


def _build_model(net, dt, discretize):
    from nengo_loihi.builder import Model  # pylint: disable=import-outside-toplevel
    from nengo_loihi.builder.builder import (  # pylint: disable=import-outside-toplevel
        ValidationLevel,
    )

    model = Model(dt=float(dt))
    model.validation_level = ValidationLevel.NONE
    with warnings.catch_warnings():
        _quiet_known_warnings()
        model.build(net, discretize=discretize)
    return model


# --------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------


def _quiet_known_warnings():
    """Silence nengo-loihi warnings that say nothing about the network."""
    # small weights lose bits when quantised: quantisation_report measures it
    warnings.filterwarnings(
        "ignore", message="Lost .* extra bits", category=UserWarning
    )
    # the emulator fills integer arrays with NaN placeholders before setting them
    warnings.filterwarnings(
        "ignore", message="invalid value encountered in cast", category=RuntimeWarning
    )


def _prepare_options(images, protocol, input_rates, signed_input):
    peak = float(np.abs(images).max()) if images.size else 1.0
    if signed_input is None:
        signed_input = bool(images.min() < 0)
    if input_rates is None:
        # the largest input fires once per step: the most spikes Loihi takes
        input_rates = (1.0 / protocol.dt) / max(peak, 1e-9)
    elif input_rates * peak * protocol.dt > 1 + 1e-9:
        warnings.warn(
            f"input_rates={input_rates:g} Hz makes the largest input fire "
            f"{input_rates * peak:g} Hz, above one spike per step (1/dt = "
            f"{1 / protocol.dt:g} Hz): Loihi drops the extra spikes",
            stacklevel=2,
        )
    return input_rates, signed_input


def _simulate(
    net, images, protocol, monitors, target, seed, progress, precompute, vectorized=True
):
    current = [images[0]]
    net.inp.output = lambda t: current[0]
    n_steps = protocol.n_steps
    outputs = np.zeros((len(images), n_steps, net.out.size_out), dtype=np.float32)
    sums = np.zeros((len(images), 2 * len(monitors)))

    def simulator():
        with warnings.catch_warnings():
            _quiet_known_warnings()
            sim = nengo_loihi.Simulator(
                net, dt=protocol.dt, seed=seed, target=target, precompute=precompute
            )
        if vectorized and "emulator" in sim.sims:
            vectorize_spike_delivery(sim.sims["emulator"])
        return sim

    sim = simulator()
    try:
        for i in _progress(range(len(images)), progress, f"loihi-{target}"):
            current[0] = images[i]
            if protocol.reset and i > 0:
                # nengo-loihi 1.1 cannot reset a simulator: build a new one
                sim.close()
                sim = simulator()
            sim.run_steps(n_steps)
            outputs[i] = sim.data[net.out_probe][-n_steps:]
            sums[i] = np.concatenate(
                [np.asarray(sim.data[p][-n_steps:]).sum(0) for p in monitors.values()]
            )
            sim.clear_probes()
    finally:
        sim.close()
    return outputs, sums


@register_backend("loihi")
def run_loihi(
    net,
    images,
    protocol,
    monitors,
    progress=False,
    target="sim",
    seed=0,
    synapse_tau=None,
    block_shapes=None,
    input_rates=None,
    signed_input=None,
    input_synapse=nengo.Lowpass(0.005),
    fold_pooling=True,
    pool_spikes=None,
    precompute=None,
    vectorized=True,
):
    """Evaluation backend: `nengo_loihi.Simulator`, one image after another.

    The network (``evaluate``'s private copy, with its monitors) is prepared in
    place with :func:`to_loihi` (unless it comes from :func:`to_loihi` already;
    the conversion options are then unused) and run like the ``"nengo"``
    reference backend:
    the input node reads the current image, images follow each other without a
    reset unless ``protocol.reset`` (then a new simulator is built per image,
    because nengo-loihi 1.1 cannot reset one). The monitors are connections from
    on-chip neurons to off-chip nodes, which nengo-loihi turns into spike probes.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        Spiking network with monitors (from `.add_monitors`).
    images : ndarray
        (n_images, n_inputs) float32.
    protocol : `.Protocol`
    monitors : dict of str -> `nengo.Probe`
    progress : bool
    target : str
        ``"sim"`` (emulator, discretised like the chip), ``"simreal"`` (emulator
        in floating point: no weight quantisation) or ``"loihi"`` (hardware).
    seed : int
    synapse_tau, block_shapes
        Passed to :func:`to_loihi`.
    input_rates : float, optional
        Input generator rate per unit of input; by default the largest input
        fires once per step.
    signed_input : bool, optional
        On/off input generators; by default if any input is negative.
    input_synapse, fold_pooling, pool_spikes
        Passed to :func:`to_loihi`.
    precompute : bool, optional
        Passed to `nengo_loihi.Simulator`.
    vectorized : bool
        Deliver the emulator's spikes with array code
        (:func:`.vectorize_spike_delivery`: the same arithmetic, the same spikes,
        about 15x faster per step on the paper's MNIST network). False runs
        nengo-loihi's own per-spike Python loop.

    Returns
    -------
    outputs : ndarray (n_images, n_steps, n_out) float32
    monitor_sums : ndarray (n_images, 2 * len(monitors))
    """
    if getattr(net, "loihi_plan", None) is None:
        input_rates, signed_input = _prepare_options(
            images, protocol, input_rates, signed_input
        )
        to_loihi(
            net,
            synapse_tau=synapse_tau,
            block_shapes=block_shapes,
            input_rates=input_rates,
            signed_input=signed_input,
            input_synapse=input_synapse,
            fold_pooling=fold_pooling,
            pool_spikes=pool_spikes,
            copy=False,
        )
    elif images.min() < 0 and not net.loihi_plan.signed_input:
        raise ValueError(
            "The network was prepared by to_loihi without signed_input, but some "
            "inputs are negative: the input generators would drop them"
        )
    return _simulate(
        net, images, protocol, monitors, target, seed, progress, precompute, vectorized
    )


# --------------------------------------------------------------------------------------
# Quantisation
# --------------------------------------------------------------------------------------


def _effective_weights(synapse, info, w_max_i):
    """Real weights that the discretised integer weights of a synapse stand for.

    `discretize_synapse` turns ``w`` into ``round(w * s / 2**shift) * 2**(shift +
    weight_exp + 6)`` with ``s = w_scale * 2**dw_exp``; dividing the integers by
    ``s * 2**(weight_exp + 6)`` gives back the weights they represent.
    """
    w_scale = float(np.asarray(info["w_scale"]).ravel()[0])
    dw_exp = int(np.floor(np.log2(info["w_max"] / w_max_i))) if w_max_i > 1e-16 else 0
    scale = w_scale * 2.0**dw_exp * 2.0 ** (6 + synapse.synapse_cfg.weight_exp)
    return [np.asarray(w, dtype=float) / scale for w in synapse.weights]


def quantisation_report(net, images=None, protocol=None, seed=0, **options):
    """How much Loihi's discretisation changes a network's weights (and outputs).

    Each block's weights, biases and thresholds are discretised as nengo-loihi
    does for the chip (`nengo_loihi.builder.discretize.discretize_block`) and
    compared with their floating-point values. With ``images``, the network is
    also run on the emulator with (``target="sim"``) and without
    (``target="simreal"``) discretisation.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A spiking network, or one already prepared by :func:`to_loihi`.
    images : ndarray, optional
        A few preprocessed images, (n, ...) on the network's input.
    protocol : `.Protocol`, optional
        Presentation of the images (default: the paper's).
    seed : int
    **options
        Passed to :func:`to_loihi` (when ``net`` is not prepared yet).

    Returns
    -------
    dict
        ``layers``: per on-chip layer ``weight_rel_rms_error`` (RMS change over
        RMS weight), ``weight_max_abs_error`` (over the largest weight),
        ``weights_zeroed`` (fraction of nonzero weights that became 0),
        ``n_weights``, ``bias_rel_max_error``, ``threshold_rel_max_error``;
        ``tau_rc`` and ``tau_ref``: the chip's values per layer neuron type;
        ``outputs`` (with images): ``rel_mean_abs_diff`` of the read-out
        (window mean) between the two emulator runs, ``prediction_agreement``,
        ``max_abs_diff``.
    """
    from nengo_softlif.evaluate import (  # pylint: disable=import-outside-toplevel
        Protocol,
        add_monitors,
        check_images,
    )

    protocol = Protocol() if protocol is None else protocol
    if getattr(net, "loihi_plan", None) is None:
        if images is not None:
            flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
            rates, signed = _prepare_options(
                flat,
                protocol,
                options.pop("input_rates", None),
                options.pop("signed_input", None),
            )
            options.update(input_rates=rates, signed_input=signed)
        prepared = to_loihi(net, **options)
    else:
        prepared = net
    model = _build_model(prepared, protocol.dt, discretize=False)
    layers = {}
    for name, ens in prepared.loihi_plan.ensembles.items():
        blocks = model.objs[ens]["in"]
        blocks = blocks if isinstance(blocks, list) else [blocks]
        err2 = ref2 = 0.0
        max_err = w_max = 0.0
        zeroed = nonzero = n_weights = 0
        bias_err = vth_err = 0.0
        for block in blocks:
            float_w = [
                [np.array(w, dtype=float) for w in s.weights] for s in block.synapses
            ]
            w_max_i = [s.max_abs_weight() for s in block.synapses]
            bias = block.compartment.bias.astype(float).copy()
            vth = block.compartment.vth.astype(float).copy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                discretize_block(block)
            info = block.compartment.discretize_info
            for syn, ws, wmi in zip(block.synapses, float_w, w_max_i, strict=True):
                for eff, ref in zip(
                    _effective_weights(syn, info, wmi), ws, strict=True
                ):
                    err2 += float(((eff - ref) ** 2).sum())
                    ref2 += float((ref**2).sum())
                    max_err = max(max_err, float(np.abs(eff - ref).max(initial=0)))
                    w_max = max(w_max, float(np.abs(ref).max(initial=0)))
                    nonzero += int(np.count_nonzero(ref))
                    zeroed += int(np.count_nonzero((ref != 0) & (eff == 0)))
                    n_weights += ref.size
            eff_bias = block.compartment.bias.astype(float) / float(
                np.asarray(info["b_scale"]).ravel()[0]
            )
            eff_vth = block.compartment.vth.astype(float) / float(info["v_scale"])
            scale_b = max(np.abs(bias).max(initial=0), 1e-12)
            bias_err = max(
                bias_err, float(np.abs(eff_bias - bias).max(initial=0) / scale_b)
            )
            vth_err = max(
                vth_err, float(np.abs(eff_vth - vth).max(initial=0) / vth.max())
            )
        layers[name] = {
            "weight_rel_rms_error": float(np.sqrt(err2 / ref2)) if ref2 > 0 else 0.0,
            "weight_max_abs_error": max_err / w_max if w_max > 0 else 0.0,
            "weights_zeroed": zeroed / nonzero if nonzero else 0.0,
            "n_weights": n_weights,
            "bias_rel_max_error": bias_err,
            "threshold_rel_max_error": vth_err,
        }
    report = {"layers": layers, "tau_rc": {}, "tau_ref": {}}
    for name, ens in prepared.loihi_plan.ensembles.items():
        if isinstance(ens.neuron_type, nengo.LIF):
            nt = ens.neuron_type
            report["tau_rc"][name] = (
                nt.tau_rc,
                float(discretize_tau_rc(nt.tau_rc, protocol.dt)),
            )
            report["tau_ref"][name] = (
                nt.tau_ref,
                float(discretize_tau_ref(nt.tau_ref, protocol.dt)),
            )
    if images is not None:
        flat, _ = check_images(
            images, np.zeros(len(images), dtype=int), net.inp.size_out
        )
        runs = {}
        for target in ("sim", "simreal"):
            copy = copy_network(prepared)
            monitors = add_monitors(copy)
            outputs, _ = _simulate(
                copy, flat, protocol, monitors, target, seed, False, None
            )
            runs[target] = outputs[:, protocol.window].mean(axis=1)
        diff = np.abs(runs["sim"] - runs["simreal"])
        report["outputs"] = {
            "rel_mean_abs_diff": float(
                diff.mean() / max(np.abs(runs["simreal"]).mean(), 1e-12)
            ),
            "max_abs_diff": float(diff.max()),
            "prediction_agreement": float(
                np.mean(runs["sim"].argmax(1) == runs["simreal"].argmax(1))
            ),
        }
    return report
