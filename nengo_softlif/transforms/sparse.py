"""Windowed sparse transforms: locally-connected and average-pooling weights.

A locally-connected layer (an unshared convolution) and an average pool are, to
every backend, `nengo.Sparse` transforms: :class:`LocallyConnectedSparse` and
:class:`AveragePoolSparse` *are* ones (subclasses), so nengo-loihi, the
event-driven backend and anything else that reads `nengo.Sparse` weights handles
them unchanged, and checkpoints store the same non-zero values.

What the subclasses add is their geometry (input shape, window, stride,
padding), which lets a simulator apply them as dense windowed operations instead
of a general sparse product. That matters in training: TensorFlow's sparse
matmul computes the gradient of the weights through a ``(non-zeros x batch)``
intermediate, which made the paper's CIFAR-10 network spend three quarters of
each nengo-dl training step in its two locally-connected layers, and its pools
cost 4-10 times ``tf.nn.avg_pool2d``. The nengo-dl builder
(:mod:`nengo_softlif.dl.transform_builders`) uses image patches and a batched matrix product,
and TensorFlow's average pooling; the nengo reference builder here applies the
same CSR matrix as `nengo.Sparse` would.
"""

import math

import nengo
import numpy as np
import scipy.sparse
from nengo.builder import Builder, Operator, Signal
from nengo.builder.operator import Reset
from nengo.exceptions import BuildError, ValidationError
from nengo.params import EnumParam, IntParam, ShapeParam
from nengo.transforms import SparseMatrix

__all__ = [
    "POOL_EDGES",
    "conv_output_size",
    "window_indices",
    "WindowedSparse",
    "LocallyConnectedSparse",
    "AveragePoolSparse",
    "WindowedSparseInc",
    "build_windowed_sparse",
]

#: What an average pool's windows that run past the far edge divide by (see
#: `.AveragePoolSparse`).
POOL_EDGES = ("clipped", "padded")


def conv_output_size(size, kernel, stride, padding):
    """Output length of a convolution along one axis (``padding`` on each side)."""
    return (size + 2 * padding - kernel) // stride + 1


def window_indices(in_shape, kernel, stride, padding, n_out_channels=None):
    """Sparse connectivity of a windowed layer (pooling or locally-connected).

    Parameters
    ----------
    in_shape : (int, int, int)
        Input ``(height, width, channels)``.
    kernel, stride, padding : int
        Window size, step and padding on the leading edge.
    n_out_channels : int or None
        None for pooling (output channel c sees input channel c only); an int for
        a locally-connected layer (every output channel sees every input channel).

    Returns
    -------
    out_shape : (int, int, int)
    rows, cols : ndarray of int
        Flat output and input indices of every connection, channels-last, sorted
        by row then column (CSR order).
    """
    height, width, channels = in_shape
    if n_out_channels is None:
        out_h = max(math.ceil((height - kernel) / stride), 0) + 1
        out_w = max(math.ceil((width - kernel) / stride), 0) + 1
    else:
        out_h = conv_output_size(height, kernel, stride, padding)
        out_w = conv_output_size(width, kernel, stride, padding)
    oi, oj, di, dj = np.meshgrid(
        np.arange(out_h),
        np.arange(out_w),
        np.arange(kernel),
        np.arange(kernel),
        indexing="ij",
    )
    ii = (oi * stride + di - padding).ravel()
    jj = (oj * stride + dj - padding).ravel()
    oi, oj = oi.ravel(), oj.ravel()
    valid = (ii >= 0) & (ii < height) & (jj >= 0) & (jj < width)
    oi, oj, ii, jj = oi[valid], oj[valid], ii[valid], jj[valid]
    if n_out_channels is None:
        c = np.arange(channels)
        rows = ((oi * out_w + oj)[:, None] * channels + c).ravel()
        cols = ((ii * width + jj)[:, None] * channels + c).ravel()
        out_channels = channels
    else:
        f, c = np.meshgrid(
            np.arange(n_out_channels), np.arange(channels), indexing="ij"
        )
        rows = ((oi * out_w + oj)[:, None] * n_out_channels + f.ravel()).ravel()
        cols = ((ii * width + jj)[:, None] * channels + c.ravel()).ravel()
        out_channels = n_out_channels
    order = np.lexsort((cols, rows))
    return (out_h, out_w, out_channels), rows[order], cols[order]


def _image_shape(input_shape):
    shape = tuple(int(x) for x in input_shape)
    if len(shape) != 3:
        raise ValidationError(
            f"input_shape must be (height, width, channels), got {shape}",
            attr="input_shape",
        )
    return shape


class WindowedSparse(nengo.Sparse):
    """Base of the `nengo.Sparse` transforms that know their windows (abstract).

    Subclasses compute their indices from their geometry; simulators that know a
    subclass may apply it faster, all others read it as a `nengo.Sparse`.
    """

    @property
    def indices(self):
        """``(n_nonzero, 2)`` array of (row, column) of every weight."""
        return np.asarray(self.init.indices)

    @property
    def output_shape(self):
        """Output ``(height, width, channels)``."""
        raise NotImplementedError


class LocallyConnectedSparse(WindowedSparse):
    """A locally-connected layer's weights: a `nengo.Sparse` that knows its shape.

    Every output pixel has its own ``kernel x kernel x channels`` filter bank of
    ``n_filters`` filters (an unshared convolution), images channels-last.

    Parameters
    ----------
    input_shape : (int, int, int)
        Input ``(height, width, channels)``.
    n_filters : int
        Output channels.
    kernel : int
        Window size (square).
    stride : int
        Window step.
    padding : int
        Zero padding on each side, in pixels.
    init : array_like or `nengo.dists.Distribution`
        The non-zero weights, in the order of ``indices`` (see
        :func:`window_indices`): one value per connection that lands inside the
        image (padding has no weights).
    """

    input_shape = ShapeParam("input_shape", length=3, low=1)
    n_filters = IntParam("n_filters", low=1)
    kernel = IntParam("kernel", low=1)
    stride = IntParam("stride", low=1)
    padding = IntParam("padding", low=0)

    _param_init_order = ["input_shape", "n_filters", "kernel", "stride", "padding"]

    def __init__(self, input_shape, n_filters, kernel, stride=1, padding=0, init=1.0):
        input_shape = _image_shape(input_shape)
        if kernel > min(input_shape[:2]) + 2 * padding:
            raise ValidationError(
                f"A {kernel}x{kernel} window with padding {padding} does not fit an "
                f"image of {input_shape[0]}x{input_shape[1]}; use a smaller kernel "
                "or more padding",
                attr="kernel",
            )
        out_shape, rows, cols = window_indices(
            input_shape, kernel, stride, padding, n_out_channels=n_filters
        )
        shape = (int(np.prod(out_shape)), int(np.prod(input_shape)))
        super().__init__(shape, indices=np.stack([rows, cols], axis=1), init=init)
        self.input_shape = input_shape
        self.n_filters = n_filters
        self.kernel = kernel
        self.stride = stride
        self.padding = padding

    @property
    def output_shape(self):
        """Output ``(height, width, n_filters)``."""
        h, w, _ = self.input_shape
        return (
            conv_output_size(h, self.kernel, self.stride, self.padding),
            conv_output_size(w, self.kernel, self.stride, self.padding),
            self.n_filters,
        )

    def with_weights(self, values):
        """The same geometry with other non-zero ``values``."""
        return type(self)(
            self.input_shape,
            self.n_filters,
            self.kernel,
            stride=self.stride,
            padding=self.padding,
            init=values,
        )

    def dense_positions(self):
        """Where each weight sits in a dense per-position filter tensor.

        Returns
        -------
        ndarray of int, shape (n_nonzero,)
            Flat index into an array of shape ``(out_h * out_w, kernel, kernel,
            channels, n_filters)``: output pixel, window row, window column, input
            channel, filter. Padding positions get no weight (they stay zero).
        """
        h, w, channels = self.input_shape
        out_h, out_w, n_filters = self.output_shape
        rows, cols = self.indices.T
        pixel, f = np.divmod(rows, n_filters)
        oi, oj = np.divmod(pixel, out_w)
        in_pixel, c = np.divmod(cols, channels)
        ii, jj = np.divmod(in_pixel, w)
        di = ii - oi * self.stride + self.padding
        dj = jj - oj * self.stride + self.padding
        return np.ravel_multi_index(
            (pixel, di, dj, c, f),
            (out_h * out_w, self.kernel, self.kernel, channels, n_filters),
        )


class AveragePoolSparse(WindowedSparse):
    """Average pooling as a fixed `nengo.Sparse` that knows its windows.

    Windows of ``size x size`` every ``stride`` pixels from the top-left corner,
    per channel. Windows that run past the far edge are, with
    ``edges="clipped"``, clipped and average over the pixels they cover
    (TensorFlow's "SAME" pooling when that pads only at the far edge, as for the
    paper's 2x2/2 and 3x3/2 pools); with ``edges="padded"`` they divide by
    ``size ** 2``, the missing pixels counting as zeros (PyTorch's
    ``count_include_pad``), which is what pools of one-spike relays or counters
    on Loihi compute exactly.

    Parameters
    ----------
    input_shape : (int, int, int)
        Input ``(height, width, channels)``.
    size : int
        Window size.
    stride : int, optional
        Window step (default ``size``).
    edges : {"clipped", "padded"}
        What a window that runs past the far edge divides by: the pixels it
        covers, or the full window.
    """

    input_shape = ShapeParam("input_shape", length=3, low=1)
    size = IntParam("size", low=1)
    stride = IntParam("stride", low=1)
    edges = EnumParam("edges", values=POOL_EDGES)

    _param_init_order = ["input_shape", "size", "stride", "edges"]

    def __init__(self, input_shape, size, stride=None, edges="clipped"):
        input_shape = _image_shape(input_shape)
        stride = size if stride is None else stride
        if edges not in POOL_EDGES:
            raise ValidationError(
                f"edges must be one of {list(POOL_EDGES)}, got {edges!r}",
                attr="edges",
                obj=self,
            )
        out_shape, rows, cols = window_indices(input_shape, size, stride, 0)
        counts = np.bincount(rows, minlength=int(np.prod(out_shape)))
        divisors = counts[rows] if edges == "clipped" else np.full(len(rows), size**2)
        super().__init__(
            (int(np.prod(out_shape)), int(np.prod(input_shape))),
            indices=np.stack([rows, cols], axis=1),
            init=1.0 / divisors,
        )
        self.input_shape = input_shape
        self.size = size
        self.stride = stride
        self.edges = edges

    @property
    def output_shape(self):
        """Output ``(height, width, channels)``."""
        return window_indices(self.input_shape, self.size, self.stride, 0)[0]

    def with_weights(self, values):
        """The same pool; ``values`` must be its averaging weights (they are fixed)."""
        if not np.allclose(values, self.init.data):
            raise ValueError(
                "AveragePoolSparse weights are fixed averages; use nengo.Sparse for "
                "other weights"
            )
        return self

    @property
    def far_padding(self):
        """Pixels that the last windows run past the far edge, ``(rows, columns)``."""
        out_h, out_w, _ = self.output_shape
        return tuple(
            max((n_out - 1) * self.stride + self.size - n_in, 0)
            for n_in, n_out in zip(self.input_shape[:2], (out_h, out_w), strict=True)
        )

    @property
    def same_padding(self):
        """True if TensorFlow's "SAME" average pooling gives exactly these windows."""
        out_h, out_w, _ = self.output_shape
        padding = self.far_padding
        if self.edges == "padded" and any(padding):
            return False  # "SAME" divides by the pixels covered
        for n_in, n_out, total in zip(
            self.input_shape[:2], (out_h, out_w), padding, strict=True
        ):
            if total // 2 != 0 or -(-n_in // self.stride) != n_out:
                return False
        return True


class WindowedSparseInc(Operator):
    """``Y += A X`` for the sparse matrix ``A`` of a windowed sparse transform.

    Parameters
    ----------
    W : Signal
        The non-zero weights, a vector in the transform's index order.
    X : Signal
        Input (flat channels-last image).
    Y : Signal
        Output to increment (reset to zero every step, as for `nengo.Sparse`:
        in nengo-dl, incrementing after a reset trains 40% faster on CIFAR-10
        than setting the signal, measured).
    transform : `.WindowedSparse`
        Geometry (the weights come from ``W``).
    tag : str, optional

    Notes
    -----
    1. sets ``[]``
    2. incs ``[Y]``
    3. reads ``[W, X]``
    4. updates ``[]``
    """

    def __init__(self, W, X, Y, transform, tag=None):
        super().__init__(tag=tag)
        self.transform = transform
        self.sets = []
        self.incs = [Y]
        self.reads = [W, X]
        self.updates = []

    @property
    def W(self):
        return self.reads[0]

    @property
    def X(self):
        return self.reads[1]

    @property
    def Y(self):
        return self.incs[0]

    def _descstr(self):
        return f"{self.W}, {self.X} -> {self.Y}"

    def make_step(self, signals, dt, rng):
        W, X, Y = signals[self.W], signals[self.X], signals[self.Y]
        rows, cols = self.transform.indices.T
        indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(rows, minlength=self.transform.size_out))]
        )
        matrix = scipy.sparse.csr_matrix(
            (np.array(W), cols, indptr), shape=self.transform.shape
        )

        # W is read-only (no learning rule applies to these transforms): the
        # matrix is built once, nothing is copied per time step
        def step_windowed_sparse_inc():
            Y[...] += matrix @ X

        return step_windowed_sparse_inc


@Builder.register(WindowedSparse)
def build_windowed_sparse(
    model, transform, sig_in, decoders=None, encoders=None, rng=np.random
):
    """Build a windowed sparse transform (neuron-to-neuron only)."""
    if decoders is not None:
        raise BuildError(
            f"A {type(transform).__name__} transform needs a neuron-to-neuron "
            "connection (connect from ens.neurons or a Node), not a decoded one"
        )
    assert encoders is None
    weighted = Signal(shape=transform.size_out, name=f"{transform}.weighted")
    model.add_op(Reset(weighted))
    sampled = transform.sample(rng=rng)
    values = sampled.data if isinstance(sampled, SparseMatrix) else sampled
    weight_sig = Signal(
        np.asarray(values, dtype=float), name=f"{transform}.weights", readonly=True
    )
    model.add_op(
        WindowedSparseInc(
            weight_sig, sig_in, weighted, transform, tag=f"{transform}.apply_weights"
        )
    )
    return weighted, weight_sig
