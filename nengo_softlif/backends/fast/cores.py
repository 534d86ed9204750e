"""Spike -> current operators: the composed linear maps between populations.

The maps between two neuron layers (e.g. average pooling then a convolution) are
composed once, when the network is compiled (:class:`SpikeMap`): a fixed sparse
part (pooling) is applied to the spikes first, then the last transform. A
`nengo.Convolution` is applied to the (pooled) active inputs only, by an im2col
product (:class:`ConvCore`); a dense map as a product of the active inputs,
sorted by input, with the dense weights (:class:`MatrixCore`); other sparse maps
as a sparse-sparse product.
"""

import numpy as np
import scipy.sparse as sp
from nengo.transforms import Convolution

from nengo_softlif.transforms.matrix import (
    compose,
    conv_geometry,
    conv_table,
    convolution_matrix,
)

__all__ = ["DENSE_THRESHOLD", "MatrixCore", "ConvCore", "SpikeMap"]

#: Dense maps at or above this density are stored as dense arrays (a CSR @ dense
#: product is ~20 times faster per multiply-add than a sparse-sparse product).
DENSE_THRESHOLD = 0.05

try:  # scipy >= 1.13: COO @ dense accumulating into a given output, in C++
    from scipy.sparse._sparsetools import coo_matmat_dense as _coo_matmat_dense
except ImportError:  # pragma: no cover
    _coo_matmat_dense = None


def _coo_accumulate(rows, cols, data, dense, out):
    """``out += coo(data, (rows, cols)) @ dense`` for a C-contiguous 2-D ``out``.

    Entries are processed in the order given: sorted by ``cols``, every row of
    ``dense`` is read once (it may not fit in cache) while ``out`` (small) is
    written at random.
    """
    if not data.size:
        return
    if (
        _coo_matmat_dense is not None
        and data.dtype == dense.dtype == out.dtype
        and rows.dtype == cols.dtype
        and out.flags.c_contiguous
        and dense.flags.c_contiguous
    ):
        _coo_matmat_dense(
            data.size,
            dense.shape[1],
            rows,
            cols,
            data,
            dense.reshape(-1),
            out.reshape(-1),
        )
    else:
        matrix = sp.coo_matrix(
            (data, (rows, cols)), shape=(out.shape[0], dense.shape[0])
        )
        out += np.asarray(matrix @ dense, dtype=out.dtype)


class MatrixCore:
    """A general linear map, stored dense or sparse, transposed (n_in, n_out).

    Parameters
    ----------
    matrix : ndarray or sparse matrix
        (n_out, n_in).
    dtype : dtype
    dense_threshold : float
        Store dense when the density is at least this.
    """

    pad = 0  # extra output values written past the end of the batch (none)

    def __init__(self, matrix, dtype, dense_threshold=DENSE_THRESHOLD):
        n_out, n_in = matrix.shape
        self.shape = (n_out, n_in)
        nnz = matrix.nnz if sp.issparse(matrix) else np.count_nonzero(matrix)
        density = nnz / max(n_out * n_in, 1)
        self.dense = density >= dense_threshold or n_out * n_in <= 65536
        if self.dense:
            dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
            self.weights_t = np.ascontiguousarray(dense.T, dtype=dtype)
        else:
            self.weights_t = sp.csr_matrix(matrix.T, dtype=dtype)
            self.weights_t.sum_duplicates()

    def scale(self, factor):
        """Multiply the weights by ``factor`` (in place)."""
        if self.dense:
            self.weights_t *= factor
        else:
            self.weights_t.data *= factor

    def accumulate(self, x, out):
        """``out[:batch * n_out] += x @ W.T`` for a CSR (batch, n_in) input ``x``."""
        batch, n_out = x.shape[0], self.shape[0]
        out = out[: batch * n_out].reshape(batch, n_out)
        if self.dense and n_out <= 32:  # small read-outs (monitors, output)
            out += x @ self.weights_t
        elif self.dense:
            # column-sorted entries: each weight row is read once per step
            csc = x.tocsc()
            cols = np.repeat(np.arange(x.shape[1], dtype=np.int32), np.diff(csc.indptr))
            rows = csc.indices.astype(np.int32, copy=False)
            _coo_accumulate(rows, cols, csc.data, self.weights_t, out)
        else:
            out += (x @ self.weights_t).toarray()

    def apply_dense(self, x):
        """``x @ W.T`` for a dense (batch, n_in) input."""
        if self.dense:
            return x @ self.weights_t
        return np.asarray((self.weights_t.T @ x.T).T)

    def matrix(self):
        """The (n_out, n_in) map as a CSR matrix."""
        return sp.csr_matrix(self.weights_t.T)


class ConvCore:
    """A channels-last 2-D convolution applied to sparse inputs (im2col of actives).

    Every active input value ``v`` at pixel ``p``, channel ``c`` adds
    ``v * kernel[offset, c, :]`` to each output pixel that sees it; this is one
    sparse (output pixels, offsets*channels) @ dense (offsets*channels, filters)
    product whose inner loop runs over the contiguous filters.
    """

    _NOWHERE = 2**30  # table entry of offsets that reach no output pixel

    def __init__(self, conv, kernel, dtype, matrix=None):
        _, (ho, wo), (kh, kw), _, _ = conv_geometry(conv)
        self.conv = conv
        self.shape = (conv.size_out, conv.size_in)
        self.channels = conv.input_shape.n_channels
        self.filters = conv.n_filters
        self.pad = self.filters  # one discarded output pixel after the batch
        self.n_out_pixels = ho * wo
        self.n_offsets = kh * kw
        table = conv_table(conv)
        table[table == ho * wo] = self._NOWHERE
        self.table = table
        self.kernel = np.ascontiguousarray(
            np.asarray(kernel).reshape(kh * kw * self.channels, self.filters),
            dtype=dtype,
        )
        self.offsets = (np.arange(kh * kw, dtype=np.int32) * self.channels)[None, :]
        self._kernel = kernel
        self._matrix = matrix  # built when first needed
        self._scale = 1.0

    def scale(self, factor):
        """Multiply the kernel by ``factor`` (in place)."""
        self.kernel *= factor
        self._scale *= factor

    def accumulate(self, x, out):
        """``out += conv(x)`` for a CSR (batch, n_in) input; ``out`` has ``pad`` spare."""
        batch = x.shape[0]
        cols = x.indices.astype(np.int32, copy=False)
        if self.channels == 1:
            pix, chan = cols, None
        else:
            pix, chan = np.divmod(cols, np.int32(self.channels))
        start = np.repeat(
            np.arange(batch, dtype=np.int32) * np.int32(self.n_out_pixels),
            np.diff(x.indptr),
        )
        rows = self.table[pix]
        rows += start[:, None]
        discard = batch * self.n_out_pixels
        np.minimum(rows, discard, out=rows)
        idx = self.offsets if chan is None else self.offsets + chan[:, None]
        idx = np.broadcast_to(idx, rows.shape).ravel()
        data = np.repeat(x.data, self.n_offsets)
        out = out[: (discard + 1) * self.filters].reshape(discard + 1, self.filters)
        _coo_accumulate(rows.ravel(), idx, data, self.kernel, out)

    def apply_dense(self, x):
        """Convolution of a dense (batch, n_in) input."""
        y = np.asarray((self.matrix() @ x.T).T)
        return y.astype(x.dtype, copy=False)

    def matrix(self):
        """The (n_out, n_in) map as a CSR matrix."""
        if self._matrix is None:
            self._matrix = convolution_matrix(self.conv, kernel=self._kernel)
        return self._matrix * self._scale


class SpikeMap:
    """A composed linear map from one population to a target: ``core @ pre``.

    ``pre`` (optional) is a fixed sparse map such as average pooling, applied to
    the spikes first (a cheap sparse-sparse product: low fan-out); ``core`` is the
    last transform of the path (`ConvCore` or `MatrixCore`).
    """

    def __init__(self, pre, core):
        self.pre = pre  # CSR (n_mid, n_in) or None
        self.pre_t = None if pre is None else sp.csr_matrix(pre.T)
        self.core = core
        n_in = core.shape[1] if pre is None else pre.shape[1]
        self.shape = (core.shape[0], n_in)
        self.pad = core.pad

    @classmethod
    def from_path(
        cls, path, matrix_of, dtype, dense_threshold=DENSE_THRESHOLD, kernel=None
    ):
        """Build from a path of connections (through passthrough nodes).

        Parameters
        ----------
        path : list of `nengo.Connection`
            The connections, from the source population to the target.
        matrix_of : callable
            ``matrix_of(conn)`` -> (post, pre) matrix of a connection.
        dtype : dtype
        dense_threshold : float
        kernel : ndarray, optional
            The kernel of the last connection, if it is a `nengo.Convolution`.
        """
        last = path[-1]
        pre = compose([matrix_of(c) for c in path[:-1]]) if len(path) > 1 else None
        if pre is not None and not sp.issparse(pre):
            full = compose([matrix_of(c) for c in path])
            return cls(None, MatrixCore(full, dtype, dense_threshold))
        conv = last.transform
        plain_conv = (
            type(conv) is Convolution
            and conv.channels_last
            and isinstance(last.pre_slice, slice)
            and last.pre_slice == slice(None)
            and isinstance(last.post_slice, slice)
            and last.post_slice == slice(None)
        )
        if plain_conv:
            core = ConvCore(conv, kernel, dtype)
        else:
            core = MatrixCore(matrix_of(last), dtype, dense_threshold)
        if pre is not None:
            pre = sp.csr_matrix(pre, dtype=dtype)
        return cls(pre, core)

    def scale(self, factor):
        """Multiply the map by ``factor``."""
        self.core.scale(factor)

    def accumulate(self, spikes, out):
        """``out += map(spikes)`` for CSR (batch, n_in) spikes; flat ``out``."""
        x = spikes if self.pre_t is None else (spikes @ self.pre_t).tocsr()
        self.core.accumulate(x, out)

    def apply(self, spikes):
        """``map(spikes)`` as a new dense (batch, n_out) array."""
        batch, n_out = spikes.shape[0], self.shape[0]
        out = np.zeros(batch * n_out + self.pad, dtype=spikes.dtype)
        self.accumulate(spikes, out)
        return out[: batch * n_out].reshape(batch, n_out)

    def apply_dense(self, x):
        """Apply to a dense (batch, n_in) array."""
        if self.pre_t is not None:
            x = np.asarray(self.pre @ x.T).T
        return self.core.apply_dense(np.ascontiguousarray(x))

    def matrix(self):
        """The composed (n_out, n_in) map as a CSR matrix."""
        core = self.core.matrix()
        return sp.csr_matrix(core if self.pre is None else core @ self.pre)
