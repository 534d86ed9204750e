"""The ``"fast"`` evaluation backend: event-driven spiking inference in numpy/scipy.

A spiking network from :func:`nengo_softlif.to_spiking` is a feed-forward chain:
input -> linear map -> LIF -> synapse -> linear maps (possibly through passthrough
pooling nodes) -> LIF -> ... -> output node. Synapses are linear filters, so
``filter(W @ spikes) == W @ filter(spikes)``: this backend applies each layer's
weights to the *spikes* of the layer before (sparse: at 10-50 Hz and ``dt = 1 ms``
only 1-5 % of the neurons spike in a step) and filters the resulting
post-synaptic currents, so the cost of a step scales with the number of spikes
times their fan-out, not with the size of the weight matrices.

* The maps between two neuron layers (e.g. average pooling then a convolution)
  are composed once, when the network is compiled (:class:`SpikeMap`): a fixed
  sparse part (pooling) is applied to the spikes first, then the last transform.
  A `nengo.Convolution` is applied to the (pooled) active inputs only, by an
  im2col product (:class:`ConvCore`); a dense map as a product of the active
  inputs, sorted by input, with the dense weights (:class:`MatrixCore`); other
  sparse maps as a sparse-sparse product.
* The input is constant during a presentation: the first layer's current is
  computed once per image.
* The neuron update is `nengo.LIF.step` (nengo 3.2), operation for operation
  (refractory periods with partial steps, spike-time interpolation,
  ``min_voltage``, ``amplitude / dt`` spikes), with nengo's one-step delay of a
  filtered connection. Initial voltages are those a `nengo.Simulator` draws for
  the same network (nengo's seeding of the network and ``seed + 1`` per
  ensemble), the same for every stream, and again after each reset.
* ``dtype="float64"``: the synapses are nengo's own discretised
  `nengo.LinearFilter` step classes, so the spike trains are those of the
  reference simulator, step for step (only the order of summations differs,
  which in practice never moves a spike).
* ``dtype="float32"`` (the default, ~2x faster): the alpha (or lowpass) synapse
  runs in a change of state basis with a few in-place operations, its input gain
  and uniform neuron gains folded into the weights; it agrees with the
  reference statistically (same rates and read-outs, not the same spikes).

Minibatch items are independent image streams, as in the nengo-dl backend.
"""

import math
import time

import nengo
import numpy as np
import scipy.sparse as sp
from nengo.builder.network import seed_network
from nengo.ensemble import Neurons
from nengo.synapses import LinearFilter
from nengo.transforms import Convolution, Dense, NoTransform, Sparse, SparseMatrix
from nengo.utils.numpy import clip

from nengo_softlif.evaluate import _progress, register_backend

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

_USE_OTHER_BACKEND = 'use backend="nengo-dl" (or "nengo") for this network'

#: Dense maps at or above this density are stored as dense arrays (a CSR @ dense
#: product is ~20 times faster per multiply-add than a sparse-sparse product).
DENSE_THRESHOLD = 0.05


# --------------------------------------------------------------------------
# Linear maps as matrices
# --------------------------------------------------------------------------


def _name(obj):
    if isinstance(obj, nengo.Connection):
        label = f' "{obj.label}"' if obj.label else ""
        return f"<Connection{label} from {obj.pre_obj} to {obj.post_obj}>"
    return str(obj)


def _conv_geometry(conv):
    """Spatial sizes, kernel, strides and leading padding of a 1-D/2-D convolution."""
    if conv.dimensions not in (1, 2):
        raise TypeError(
            f"{conv}: only 1-D and 2-D convolutions are supported; {_USE_OTHER_BACKEND}"
        )
    in_sp = tuple(conv.input_shape.spatial_shape)
    out_sp = tuple(conv.output_shape.spatial_shape)
    kernel = tuple(conv.kernel_size)
    strides = tuple(conv.strides)
    if conv.dimensions == 1:
        in_sp, out_sp, kernel, strides = (
            (1,) + in_sp,
            (1,) + out_sp,
            (1,) + kernel,
            (1,) + strides,
        )
    pads = []
    for i in range(2):
        if conv.padding == "same":
            total = max((out_sp[i] - 1) * strides[i] + kernel[i] - in_sp[i], 0)
            pads.append(total // 2)  # nengo (as TensorFlow) pads the far edge more
        else:
            pads.append(0)
    return in_sp, out_sp, kernel, strides, tuple(pads)


def _conv_table(conv):
    """For every input pixel and kernel offset, the output pixel it reaches.

    Returns an ``(n_in_pixels, kh*kw)`` int array: the flat output pixel, or
    ``n_out_pixels`` where that offset reaches no output.
    """
    (h, w), (ho, wo), (kh, kw), (sy, sx), (py, px) = _conv_geometry(conv)
    iy, ix, dy, dx = np.meshgrid(
        np.arange(h), np.arange(w), np.arange(kh), np.arange(kw), indexing="ij"
    )
    ny, nx = iy + py - dy, ix + px - dx
    oy, ox = ny // sy, nx // sx
    valid = (ny % sy == 0) & (nx % sx == 0) & (oy >= 0) & (oy < ho)
    valid &= (ox >= 0) & (ox < wo)
    table = np.where(valid, oy * wo + ox, ho * wo)
    return table.reshape(h * w, kh * kw).astype(np.int32)


def convolution_matrix(conv, kernel=None, rng=None):
    """The (size_out, size_in) sparse matrix of a `nengo.Convolution` transform.

    Parameters
    ----------
    conv : `nengo.Convolution`
        A 1-D or 2-D convolution (``"same"`` or ``"valid"`` padding, any strides,
        channels first or last).
    kernel : ndarray, optional
        The kernel, ``kernel_size + (input_channels, n_filters)``; by default
        ``conv.sample(rng=rng)``.
    rng : `numpy.random.RandomState`, optional
        For kernels given as a distribution.

    Returns
    -------
    `scipy.sparse.csr_matrix`
    """
    if type(conv) is not Convolution:
        raise TypeError(f"Unsupported transform {conv}; {_USE_OTHER_BACKEND}")
    if kernel is None:
        kernel = conv.sample(rng=np.random if rng is None else rng)
    (h, w), (ho, wo), (kh, kw), _, _ = _conv_geometry(conv)
    kernel = np.asarray(kernel, dtype=float).reshape(kh * kw, -1, conv.n_filters)
    channels, filters = kernel.shape[1], conv.n_filters
    table = _conv_table(conv)
    pix, off = np.nonzero(table < ho * wo)
    opix = table[pix, off]
    # one entry per (input pixel, offset, input channel, filter)
    c, f = np.meshgrid(np.arange(channels), np.arange(filters), indexing="ij")
    c, f = c.ravel(), f.ravel()
    if conv.channels_last:
        rows = opix[:, None] * filters + f[None, :]
        cols = pix[:, None] * channels + c[None, :]
    else:
        rows = f[None, :] * (ho * wo) + opix[:, None]
        cols = c[None, :] * (h * w) + pix[:, None]
    data = kernel[off][:, c, f]
    return sp.csr_matrix(
        (data.ravel(), (rows.ravel(), cols.ravel())),
        shape=(conv.size_out, conv.size_in),
    )


def _selection(index, size):
    """(len(selected), size) 0/1 matrix of ``np.arange(size)[index]``, or None."""
    if isinstance(index, slice) and index == slice(None):
        return None
    selected = np.arange(size)[index]
    if selected.ndim == 0:
        selected = selected[None]
    return sp.csr_matrix(
        (np.ones(len(selected)), (np.arange(len(selected)), selected)),
        shape=(len(selected), size),
    )


def transform_matrix(conn, rng=None):
    """The full (post size, pre size) linear map of a connection.

    Includes ``pre_slice`` and ``post_slice``. Returns a `scipy.sparse` CSR
    matrix, or a dense ndarray for `nengo.Dense` transforms.

    Parameters
    ----------
    conn : `nengo.Connection`
    rng : `numpy.random.RandomState`, optional
        Generator for transforms given as distributions (nengo uses one seeded by
        the connection's seed).

    Raises
    ------
    TypeError
        For transforms other than Dense, Sparse, Convolution or none.
    """
    rng = np.random if rng is None else rng
    transform = conn.transform
    size_mid = conn.size_mid
    if isinstance(transform, NoTransform):
        core = sp.identity(size_mid, format="csr")
    elif type(transform) is Dense:
        weights = np.asarray(transform.sample(rng=rng), dtype=float)
        if weights.ndim == 2:
            core = weights
        elif weights.ndim == 1:
            core = sp.diags(weights, format="csr")
        else:
            core = sp.identity(size_mid, format="csr") * float(weights)
    elif isinstance(transform, Sparse):  # incl. LocallyConnectedSparse
        weights = transform.sample(rng=rng)
        if isinstance(weights, SparseMatrix):
            indices = np.asarray(weights.indices)
            weights = sp.csr_matrix(
                (np.asarray(weights.data, dtype=float), (indices[:, 0], indices[:, 1])),
                shape=weights.shape,
            )
        core = sp.csr_matrix(weights, dtype=float)
    elif type(transform) is Convolution:
        core = convolution_matrix(transform, rng=rng)
    else:
        raise _unsupported(
            conn, f"its {type(transform).__name__} transform is not supported"
        )
    pre_sel = _selection(conn.pre_slice, conn.pre_obj.size_out)
    post_obj = conn.post_obj
    post_sel = _selection(conn.post_slice, post_obj.size_in)
    if post_sel is not None and len(np.unique(post_sel.indices)) < post_sel.shape[0]:
        raise _unsupported(conn, "its post slice repeats indices")
    maps = [
        m
        for m in (pre_sel, core, None if post_sel is None else post_sel.T)
        if m is not None
    ]
    return _compose(maps)


def _compose(maps):
    """Product ``maps[-1] @ ... @ maps[0]`` (sparse stays sparse, dense stays dense)."""
    result = maps[0]
    for m in maps[1:]:
        if sp.issparse(m) and sp.issparse(result):
            result = (m @ result).tocsr()
        elif sp.issparse(m):  # sparse @ dense
            result = np.asarray(m @ result)
        elif sp.issparse(result):  # dense @ sparse
            result = np.asarray((result.T @ m.T).T)
        else:
            result = m @ result
    if sp.issparse(result):
        result = sp.csr_matrix(result)
        result.sum_duplicates()
    return result


# --------------------------------------------------------------------------
# Spike -> current operators
# --------------------------------------------------------------------------

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
        _, (ho, wo), (kh, kw), _, _ = _conv_geometry(conv)
        self.conv = conv
        self.shape = (conv.size_out, conv.size_in)
        self.channels = conv.input_shape.n_channels
        self.filters = conv.n_filters
        self.pad = self.filters  # one discarded output pixel after the batch
        self.n_out_pixels = ho * wo
        self.n_offsets = kh * kw
        table = _conv_table(conv)
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
        pre = _compose([matrix_of(c) for c in path[:-1]]) if len(path) > 1 else None
        if pre is not None and not sp.issparse(pre):
            full = _compose([matrix_of(c) for c in path])
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


# --------------------------------------------------------------------------
# State: LIF layers, synaptic filters, read-out sinks
# --------------------------------------------------------------------------


class _LIFLayer:
    """A population of `nengo.LIF` neurons, batched (batch, n), stepped as nengo."""

    def __init__(self, ens, initial, dtype, dt):
        nt = ens.neuron_type
        self.ens = ens
        self.n = ens.n_neurons
        self.dtype = dtype
        self.dt = dt
        self.tau_rc = float(nt.tau_rc)
        self.tau_ref = float(nt.tau_ref)
        self.min_voltage = dtype.type(nt.min_voltage)
        self.spike_value = float(nt.amplitude) / dt
        self.gain = np.asarray(ens.gain, dtype=dtype)
        self.bias = np.asarray(ens.bias, dtype=dtype)
        self.unit_gain = bool(np.all(self.gain == 1))
        self.uniform_gain = bool(np.all(self.gain == self.gain.flat[0]))
        self.v0 = np.asarray(initial["voltage"], dtype=dtype)
        self.ref0 = np.asarray(initial["refractory_time"], dtype=dtype)
        # expm1(-dt / tau_rc): nengo's factor for every neuron that is not refractory
        self.decay = np.expm1(-np.full(1, dt, dtype=dtype) / self.tau_rc)[0]
        self.incoming = []  # filter groups (their output is read one step later)
        self.direct = []  # (source layer, SpikeMap): unfiltered, no delay
        self.from_input = []  # SpikeMaps from the input node
        self.constant = None  # (n,) constant input (before gain)
        self.base = None

    def reset(self, batch):
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


class _FastFilter:
    """A `nengo.LinearFilter` step in few in-place operations (float32 mode).

    In a basis where the synapse's input gain is 1, a one-state filter (lowpass)
    is ``x = a x + u``, and a two-state filter with a double pole ``e`` (alpha) is
    ``x1 = e x1 + x0 + beta u; x0 = e x0 + u`` with output ``x1``. The input gain
    (``scale``) is folded into the weights of the maps feeding the filter. Same
    discrete system as nengo's (a change of state basis), different round-off.
    """

    def __init__(self, kind, coefficients, scale, dtype):
        self.kind = kind
        self.coefficients = [dtype.type(c) for c in coefficients]
        self.scale = scale
        self.dtype = dtype

    @classmethod
    def from_ss(cls, A, B, C, D, dtype):
        """The fast form of the discrete system (A, B, C, D), or None."""
        A, B, C, D = (np.asarray(m, dtype=float) for m in (A, B, C, D))
        if np.any(D != 0) or A.shape not in ((1, 1), (2, 2)):
            return None
        if A.shape == (1, 1):
            return cls("one", [A.item()], C.item() * B.item(), dtype)
        e = np.trace(A) / 2
        N = A - e * np.eye(2)
        if np.abs(N @ N).max() > 1e-9 * max(np.abs(A).max() ** 2, 1e-300):
            return None  # distinct poles: not handled here
        T = np.vstack([C @ N, C])  # new states: x0 = C N x, x1 = C x
        if abs(np.linalg.det(T)) < 1e-12 * np.abs(T).max() ** 2:
            return None
        Bn = (T @ B).ravel()
        if Bn[0] == 0:
            return None
        return cls("double", [e, Bn[1] / Bn[0]], Bn[0], dtype)

    def make_state(self, size):
        n = 1 if self.kind == "one" else 2
        return np.zeros((n, size), dtype=self.dtype)

    def step(self, X, u):
        """Advance state ``X`` with (scaled) input ``u`` (overwritten); return y."""
        if self.kind == "one":
            (a,) = self.coefficients
            x = X[0]
            x *= a
            x += u
            return x
        e, beta = self.coefficients
        x0, x1 = X[0], X[1]
        x1 *= e
        x1 += x0
        x0 *= e
        x0 += u
        u *= beta
        x1 += u
        return x1


class _FilterGroup:
    """One synapse (a `nengo.LinearFilter`) on the summed currents into a sink.

    Its output is read one step later, as that of nengo's filtered connections
    (synapses are "update" operators). In float64, nengo's own discretisation and
    step classes (``NoD`` for the alpha synapse) run on a flat (batch * n) signal
    (same arithmetic); in float32, `_FastFilter` when it applies.
    """

    def __init__(self, synapse, n, dtype, dt, fast=True):
        self.synapse = synapse
        self.n = n
        self.dtype = dtype
        self.sources = []  # (layer index, SpikeMap)
        self.gain_folded = False
        A, B, C, D = synapse._get_ss(dt)  # noqa: SLF001 (nengo's discretisation)
        self.fast = _FastFilter.from_ss(A, B, C, D, dtype) if fast else None
        # (2,): a size-1 signal would select nengo's scalar-only step class
        state = synapse.make_state((2,), (2,), dt, dtype=dtype)
        step = synapse.make_step((2,), (2,), dt, None, state)
        self.step_class = type(step)
        self.matrices = [np.asarray(m, dtype=dtype) for m in (A, B, C, D)]
        self.n_states = state["X"].shape[0]

    @property
    def input_scale(self):
        """Factor folded into the maps that feed this filter."""
        return 1.0 if self.fast is None else self.fast.scale

    def reset(self, batch):
        size = batch * self.n
        self.batch = batch
        if self.fast is not None:
            self.X = self.fast.make_state(size)
        else:
            self.X = np.zeros((self.n_states, size), dtype=self.dtype)
            self.step_f = self.step_class(*self.matrices, self.X)
        self.y = np.zeros(size, dtype=self.dtype)
        pad = max([m.pad for _, m in self.sources], default=0)
        self.u = np.zeros(size + pad, dtype=self.dtype)

    def shrink(self, batch):
        size = batch * self.n
        X = self.X.reshape(self.X.shape[0], self.batch, self.n)[:, :batch]
        self.X = np.ascontiguousarray(X).reshape(self.X.shape[0], -1)
        if self.fast is None:
            self.step_f = self.step_class(*self.matrices, self.X)
            self.y = np.ascontiguousarray(self.y[:size])
        else:
            self.y = self.X[-1]
        pad = self.u.size - self.batch * self.n
        self.u = np.zeros(size + pad, dtype=self.dtype)
        self.batch = batch

    def update(self, spikes):
        """Filter this step's summed currents (read by the sink next step)."""
        u = self.u
        u.fill(0)
        for source, spike_map in self.sources:
            S = spikes[source]
            if S.nnz:
                spike_map.accumulate(S, u)
        signal = u[: self.batch * self.n]
        if self.fast is not None:
            self.y = self.fast.step(self.X, signal)
        else:
            self.y = self.step_f(None, signal)


class _NodeSink:
    """A probed passthrough node: the network output or a monitor."""

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
        total = np.zeros((images.shape[0], self.n), dtype=self.dtype)
        for spike_map in self.from_input:
            total += spike_map.apply_dense(images)
        if self.constant is not None:
            total += self.constant
        self.base = total

    def shrink(self, batch):
        if self.base is not None:
            self.base = np.ascontiguousarray(self.base[:batch])

    def value(self, spikes, batch):
        value = self.base
        for group in self.incoming:
            value = value + group.y[: batch * self.n].reshape(batch, self.n)
        for source, spike_map in self.direct:
            S = spikes[source]
            if S.nnz:
                value = value + spike_map.apply(S)
        return value


# --------------------------------------------------------------------------
# Compiling a network
# --------------------------------------------------------------------------


def _unsupported(obj, why):
    return TypeError(
        f"The fast backend cannot run {_name(obj)}: {why}. It runs feed-forward "
        f"chains of nengo.LIF layers with linear connections; {_USE_OTHER_BACKEND}."
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


def _synapse_key(synapse):
    return (
        type(synapse).__name__,
        tuple(np.asarray(synapse.num, dtype=float).ravel()),
        tuple(np.asarray(synapse.den, dtype=float).ravel()),
        bool(synapse.analog),
        synapse.method,
    )


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


def compile_network(
    net, probes, dt=0.001, dtype="float32", dense_threshold=DENSE_THRESHOLD
):
    """Check that ``net`` is a feed-forward LIF chain and compile it.

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
        Naming the object, when the network is not a supported feed-forward chain
        of `nengo.LIF` layers with linear connections.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a float type, got {dtype}")
    exact = dtype == np.float64  # nengo's arithmetic, operation for operation
    inp = getattr(net, "inp", None)
    if not isinstance(inp, nengo.Node):
        raise TypeError(f"{_name(net)} has no input node 'inp'")
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

    # nengo's seeds give the initial voltages (and transform samples) it would use
    seeds, seeded = {}, {}
    seed_network(net, seeds, seeded)

    ensembles = list(net.all_ensembles)
    for ens in ensembles:
        if type(ens.neuron_type) is not nengo.LIF:
            raise _unsupported(
                ens, f"its neurons are {type(ens.neuron_type).__name__}, not nengo.LIF"
            )
        if ens.noise is not None:
            raise _unsupported(ens, "it has neuron noise")
        for attr in ("gain", "bias"):
            value = getattr(ens, attr)
            if value is None or isinstance(value, nengo.dists.Distribution):
                raise _unsupported(ens, f"its {attr} is not given as an array")
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

    matrices = {}

    def conn_matrix(conn):
        if conn not in matrices:
            matrices[conn] = transform_matrix(
                conn, rng=np.random.RandomState(seeds[conn])
            )
        return matrices[conn]

    # every path from a source through passthrough nodes to a target
    paths = []  # (source, target, [conn, ...], synapse or None)

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

    # topological order of the layers (any cycle is a recurrent network)
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

    layers = []
    position = {}
    for ens in order:
        rng = np.random.RandomState(seeds[ens] + 1)  # as nengo's build_neurons
        initial = ens.neuron_type.make_state(ens.n_neurons, rng=rng, dtype=np.float64)
        position[ens] = len(layers)
        layers.append(_LIFLayer(ens, initial, dtype, dt))
    sinks = {node: _NodeSink(node, dtype) for node in probed}
    groups, group_index, spike_maps = [], {}, {}
    for source, target, path, syn in paths:
        sink = (
            layers[position[target]]
            if isinstance(target, nengo.Ensemble)
            else sinks[target]
        )
        if not isinstance(source, nengo.Ensemble):  # input or constant node
            if syn is not None:
                raise _unsupported(
                    path[-1],
                    f"the path from {_name(source)} is filtered (input and constant "
                    "paths must have synapse=None)",
                )
            full = _compose([conn_matrix(c) for c in path])
            if source is inp:
                spike_map = SpikeMap(None, MatrixCore(full, dtype, dense_threshold))
                sink.from_input.append(spike_map)
            else:
                value = np.asarray(source.output, dtype=float).reshape(-1)
                const = np.asarray(full @ value).reshape(-1).astype(dtype)
                sink.constant = (
                    const if sink.constant is None else sink.constant + const
                )
                spike_map = None
        else:
            last = path[-1]
            kernel = None
            if type(last.transform) is Convolution:
                rng = np.random.RandomState(seeds[last])
                kernel = last.transform.sample(rng=rng)
            spike_map = SpikeMap.from_path(
                path, conn_matrix, dtype, dense_threshold, kernel
            )
            src = position[source]
            if syn is None:
                sink.direct.append((src, spike_map))
            else:
                key = (id(sink), _synapse_key(syn))
                if key not in group_index:
                    group_index[key] = len(groups)
                    group = _FilterGroup(syn, sink.n, dtype, dt, fast=not exact)
                    group.sink = sink
                    groups.append(group)
                    sink.incoming.append(group)
                groups[group_index[key]].sources.append((src, spike_map))
        if spike_map is not None:
            spike_maps.setdefault((source, target), []).append(spike_map)
    # float32: fold each fast filter's input gain (and a layer's uniform gain) into
    # the weights of the maps feeding it
    for group in groups:
        factor = group.input_scale
        sink = group.sink
        if not exact and isinstance(sink, _LIFLayer) and not sink.unit_gain:
            if sink.uniform_gain:
                factor *= float(sink.gain.flat[0])
                group.gain_folded = True
        if factor != 1:
            for _, spike_map in group.sources:
                spike_map.scale(factor)
    return CompiledNetwork(layers, groups, sinks, spike_maps, dtype, dt)


# --------------------------------------------------------------------------
# The backend
# --------------------------------------------------------------------------


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
        Unused (accepted as by the other backends): the supported networks have no
        stochastic parts, and the initial voltages come from the network's seeds.
    dense_threshold : float
        Maps at least this dense are stored as dense arrays.
    stream_chunk : int, "auto" or None
        Simulate the streams this many at a time (each chunk through all its
        images, then the next): the same results as all at once (streams are
        independent), with smaller arrays that stay in cache. ``"auto"``: about
        2**18 neurons per chunk; None: all ``minibatch_size`` streams at once.
    timings : dict, optional
        If given, seconds spent per phase are added to it (``"currents"``,
        ``"lif"``, ``"readout"``, ``"synapses"``, ``"setup"``).

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
        If the network is not a feed-forward chain of `nengo.LIF` layers with
        linear connections (see :func:`compile_network`).

    Notes
    -----
    The state of a minibatch is a few arrays of (minibatch, neurons) values per
    layer; the largest memory is the dense weights of dense layers (stored
    transposed, in ``dtype``) and ``outputs`` (``4 * n_steps * n_out`` bytes per
    image, as the other backends return).
    """
    del seed
    if len(images) == 0:
        return (
            np.zeros((0, protocol.n_steps, net.out.size_out), dtype=np.float32),
            np.zeros((0, 2 * len(monitors))),
        )
    start = time.perf_counter()
    probes = [net.out_probe] + list(monitors.values())
    compiled = compile_network(
        net, probes, dt=protocol.dt, dtype=dtype, dense_threshold=dense_threshold
    )
    out_node = net.out_probe.target
    monitor_nodes = [p.target for p in monitors.values()]
    n_images = len(images)
    n_steps = protocol.n_steps
    mb = max(1, min(minibatch_size, n_images))
    per_stream = math.ceil(n_images / mb)
    mb = math.ceil(n_images / per_stream)  # streams that show at least one image
    outputs = np.zeros((n_images, n_steps, out_node.size_in), dtype=np.float32)
    sums = np.zeros((n_images, 2 * len(monitors)))
    if stream_chunk == "auto":
        n_neurons = sum(layer.n for layer in compiled.layers)
        stream_chunk = max(1, 2**18 // max(n_neurons, 1))
    chunk = mb if stream_chunk is None else max(1, min(int(stream_chunk), mb))
    # (first stream of the chunk, presentation): stream b shows images
    # b * per_stream + k; streams past the end of the images are dropped
    schedule = [(s0, k) for s0 in range(0, mb, chunk) for k in range(per_stream)]
    if timings is not None:
        timings["setup"] = timings.get("setup", 0) + time.perf_counter() - start
    for s0, k in _progress(schedule, progress, "fast presentations"):
        s1 = min(s0 + chunk, mb, math.ceil((n_images - k) / per_stream))
        if s1 <= s0:
            continue
        if k == 0:
            compiled.reset(min(s0 + chunk, mb) - s0)
        compiled.shrink(s1 - s0)
        idx = np.arange(s0, s1) * per_stream + k
        if protocol.reset and k > 0:
            compiled.reset(s1 - s0)
        compiled.present(images[idx])
        out_buf = np.empty((s1 - s0, n_steps, out_node.size_in), dtype=np.float32)
        mon_buf = np.zeros((s1 - s0, 2 * len(monitors)))
        for t in range(n_steps):
            values = compiled.step(timings)
            out_buf[:, t] = values[out_node]
            for j, node in enumerate(monitor_nodes):
                mon_buf[:, 2 * j : 2 * j + 2] += values[node]
        outputs[idx] = out_buf
        sums[idx] = mon_buf
    return outputs, sums
