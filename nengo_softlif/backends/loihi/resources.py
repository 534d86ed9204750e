"""What the blocks of an on-chip layer need from their cores, per connection.

A model of the core resources that nengo-loihi 1.1 counts when it splits a layer
into blocks (mirrors ``nengo_loihi.builder.split_blocks`` and its convolution
code): the input axons and bits of synapse memory that a block needs for its
incoming weights, and the output axons that a presynaptic block needs to reach
the blocks of the next layer. Dense (``_DenseLink``), sparse (``_SparseLink``)
and convolutional (``_ConvLink``) weights are counted each their own way;
:func:`connection_link` picks the model of a connection.
`nengo_softlif.backends.loihi.placement` uses it to choose block shapes.
"""

import functools
import itertools
import math

import nengo
import numpy as np
import scipy.sparse

from nengo_softlif.backends.loihi._nengo_loihi import SynapseConfig
from nengo_softlif.transforms.matrix import transform_matrix

__all__ = [
    "POP_TYPE",
    "block_ranges",
    "count_blocks",
    "connection_link",
    "sparse_parts",
]

#: nengo-loihi's default axon format for convolutions (2 axon slots per pixel).
POP_TYPE = 32


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


def block_ranges(shape, block_shape):
    """The blocks of a layer in nengo-loihi's order.

    Parameters
    ----------
    shape : tuple of int
        Shape of the layer's neurons.
    block_shape : tuple of int
        Shape of a block (the last block along a dimension may be smaller).

    Returns
    -------
    list of tuple
        Per block, a ``(start, stop)`` pair per dimension.
    """
    return list(
        itertools.product(
            *(_ranges(n, b) for n, b in zip(shape, block_shape, strict=True))
        )
    )


def count_blocks(shape, block_shape):
    """Number of blocks of shape ``block_shape`` that a layer of ``shape`` needs.

    Parameters
    ----------
    shape : tuple of int
        Shape of the layer's neurons.
    block_shape : tuple of int
        Shape of a block.

    Returns
    -------
    int
    """
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
            [
                np.prod([b - a for a, b in blk])
                for blk in block_ranges(shape, block_shape)
            ]
        )
        in_axons = np.full(len(sizes), self.n_pre)
        bits = np.array([self.n_pre * _axon_bits(s, 3) for s in sizes])
        return in_axons, bits

    def pre_out_axons(self, pre_shape, pre_block, post_shape, post_block):
        sizes = np.bincount(_block_ids(pre_shape, pre_block))
        return sizes * count_blocks(post_shape, post_block)


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
        blocks = block_ranges(shape, block_shape)
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
        post_blocks = block_ranges(post_shape, post_block)
        n_filter_ranges = len(_ranges(post_shape[2], post_block[2]))
        spatial = sorted({(r, c) for r, c, _ in post_blocks})
        touch_r = {r: self._touch_count(0, *r) for r, _ in spatial}
        touch_c = {c: self._touch_count(1, *c) for _, c in spatial}
        out = []
        for (a0, a1), (b0, b1), _ in block_ranges(pre_shape, pre_block):
            if len(post_blocks) == 1:
                n = (a1 - a0) * (b1 - b0)
            else:
                n = n_filter_ranges * sum(
                    int(touch_r[r][a0:a1].sum()) * int(touch_c[c][b0:b1].sum())
                    for r, c in spatial
                )
            out.append(slots * n)
        return np.array(out)


_PARTS_TRANSFORMS = (nengo.Sparse, nengo.transforms.NoTransform, nengo.Dense)


def sparse_parts(conn):
    """The weights of a connection as (rows, cols, values) triplets.

    Reads the connection's (post size, pre size) matrix (slices included) from
    `nengo_softlif.transforms.matrix.transform_matrix`: every entry of a 2-D
    `nengo.Dense` weight matrix (zeros too), otherwise the stored entries of
    the sparse matrix in row-major order (duplicate indices summed, explicit
    zeros of a `nengo.Sparse` kept, zeros of an element-wise `nengo.Dense`
    dropped).

    Parameters
    ----------
    conn : `nengo.Connection`
        A connection with a `nengo.Sparse` (or windowed sparse), `nengo.Dense` or
        no transform.

    Returns
    -------
    rows, cols : ndarray of int
        Post and pre index of each weight.
    values : ndarray of float
    """
    transform = conn.transform
    if not isinstance(transform, _PARTS_TRANSFORMS):
        raise NotImplementedError(f"Unsupported transform {type(transform).__name__}")
    matrix = transform_matrix(conn)
    if scipy.sparse.issparse(matrix):
        coo = matrix.tocoo()
        return coo.row.astype(np.intp), coo.col.astype(np.intp), coo.data
    rows, cols = np.nonzero(np.ones_like(matrix, dtype=bool))
    return rows, cols, matrix[rows, cols]


def connection_link(conn):
    """The model of the core resources that a connection's weights need.

    Parameters
    ----------
    conn : `nengo.Connection`
        A connection into the neurons of an on-chip layer.

    Returns
    -------
    object
        A model of dense, sparse or convolutional weights, with the methods
        ``min_in_axons()``, ``post_usage(shape, block_shape)`` (input axons and
        synapse bits per block of the postsynaptic layer) and
        ``pre_out_axons(pre_shape, pre_block, post_shape, post_block)`` (output
        axons per block of the presynaptic layer) that
        `nengo_softlif.backends.loihi.placement` uses.
    """
    transform = conn.transform
    if isinstance(transform, nengo.Convolution):
        return _ConvLink(transform)
    n_pre, n_post = conn.pre_obj.size_out, conn.post_obj.size_in
    if isinstance(transform, nengo.Dense) and np.ndim(transform.init) == 2:
        return _DenseLink(n_pre, n_post)
    rows, cols, values = sparse_parts(conn)
    return _SparseLink(rows, cols, values, n_pre, n_post)
