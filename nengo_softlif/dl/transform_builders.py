"""nengo-dl builder of the windowed sparse transforms (locally-connected, pooling).

Registered with nengo-dl's ``Builder`` on import (which happens automatically when
``nengo_dl`` is imported, see :mod:`nengo_softlif.import_hooks`).

`.LocallyConnectedSparse`
    The weights stay the transform's non-zero vector (the trainable parameter, as
    for `nengo.Sparse`); each step scatters them into a dense ``(pixels,
    kernel*kernel*channels, filters)`` tensor (padding positions zero) and
    computes, for a minibatch ``B``, ``Y[b, p, f] = sum_k patches[b, p, k]
    W[p, k, f]``: ``O(B * nnz)`` without the ``(nnz x B)`` intermediate of a
    sparse matmul's weight gradient.
`.AveragePoolSparse`
    ``tf.nn.avg_pool2d`` ("SAME" for clipped edges, zeros past the far edge then
    "VALID" for padded ones) when that gives the transform's windows and its
    weights are not trained (as built by the AvgPool layer); otherwise the
    general sparse matmul.
"""

import warnings

import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.transforms.sparse import (
    AveragePoolSparse,
    LocallyConnectedSparse,
    WindowedSparseInc,
)

nengo_dl = import_nengo_dl()
import tensorflow as tf  # noqa: E402  (nengo-dl must be imported first: aliases)
from nengo_dl.builder import Builder, OpBuilder  # noqa: E402

__all__ = ["WindowedSparseIncBuilder", "locally_connected_tf"]


@Builder.register(WindowedSparseInc)
class WindowedSparseIncBuilder(OpBuilder):
    """Build a `.WindowedSparseInc` (one operator per builder: not mergeable)."""

    def build_pre(self, signals, config):
        super().build_pre(signals, config)
        (op,) = self.ops
        transform = op.transform
        self.W_data = signals[op.W]
        self.X_data = signals[op.X]
        self.Y_data = signals[op.Y]
        if self.W_data.minibatched:
            raise NotImplementedError(
                f"{type(transform).__name__} weights cannot be minibatched (online "
                "learning rules are not supported on this transform)"
            )
        self.in_shape = (-1,) + tuple(transform.input_shape)
        self.out_size = transform.size_out
        if isinstance(transform, LocallyConnectedSparse):
            self.mode = "locally-connected"
            self._pre_locally_connected(transform)
        elif (
            isinstance(transform, AveragePoolSparse)
            and (transform.same_padding or transform.edges == "padded")
            and not getattr(op.W, "trainable", False)
        ):
            self.mode = "avg-pool"
            self.window, self.stride = transform.size, transform.stride
            # padded edges: zeros past the far edge, then every window is whole
            self.far_padding = (
                transform.far_padding if transform.edges == "padded" else (0, 0)
            )
        else:
            self.mode = "sparse"
            self.indices = tf.constant(transform.indices.astype(np.int64))
            self.dense_shape = tf.constant(transform.shape, dtype=tf.int64)

    def _pre_locally_connected(self, transform):
        out_h, out_w, n_filters = transform.output_shape
        channels = transform.input_shape[2]
        k, pad = transform.kernel, transform.padding
        self.window, self.stride, self.padding = k, transform.stride, pad
        self.dense_shape = (out_h * out_w, k * k * channels, n_filters)
        self.positions = tf.constant(
            transform.dense_positions().astype(np.int64)[:, None]
        )

    def build_step(self, signals):
        x = signals.gather(self.X_data)
        if self.mode == "avg-pool":
            image = tf.reshape(x, self.in_shape)
            if any(self.far_padding):
                rows, cols = self.far_padding
                image = tf.pad(image, ((0, 0), (0, rows), (0, cols), (0, 0)))
                y = tf.nn.avg_pool2d(image, self.window, self.stride, "VALID")
            else:
                y = tf.nn.avg_pool2d(image, self.window, self.stride, "SAME")
        else:
            values = tf.reshape(signals.gather(self.W_data), (-1,))
            if self.mode == "locally-connected":
                y = self._locally_connected(x, values)
            else:
                matrix = tf.sparse.SparseTensor(self.indices, values, self.dense_shape)
                y = tf.transpose(
                    tf.sparse.sparse_dense_matmul(matrix, x, adjoint_b=True)
                )
        y = tf.reshape(y, (-1, self.out_size))
        y.set_shape((signals.minibatch_size,) + self.Y_data.shape)
        signals.scatter(self.Y_data, y, mode="inc")

    def _locally_connected(self, x, values):
        dense = tf.scatter_nd(self.positions, values, (int(np.prod(self.dense_shape)),))
        dense = tf.reshape(dense, self.dense_shape)
        return locally_connected_tf(
            tf.reshape(x, self.in_shape),
            dense,
            self.window,
            self.stride,
            self.padding,
        )


def locally_connected_tf(images, kernel, size, stride, padding):
    """A locally-connected layer (unshared convolution) on a batch of images.

    Parameters
    ----------
    images : tf.Tensor
        ``(batch, height, width, channels)``.
    kernel : tf.Tensor
        ``(out_pixels, size * size * channels, filters)``: the filters of every
        output pixel, window rows, window columns and channels in C order
        (padding positions hold weights that only ever see zeros).
    size, stride, padding : int
        Window side, window step and zero padding on each side, in pixels.

    Returns
    -------
    tf.Tensor
        ``(batch, out_pixels, filters)``.
    """
    pad = [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    patches = tf.image.extract_patches(
        tf.pad(images, pad),
        [1, size, size, 1],
        [1, stride, stride, 1],
        [1, 1, 1, 1],
        "VALID",
    )
    patches = tf.reshape(patches, (-1, kernel.shape[0], kernel.shape[1]))
    return tf.einsum("bpk,pkf->bpf", patches, kernel)


# nengo-dl's ``remove_reset_incs`` simplification lists the operator types it
# knows and warns about any other incrementing operator; skipping this one is the
# correct outcome, so the warning is noise
warnings.filterwarnings(
    "ignore",
    message=r"Unknown incer type <class 'nengo_softlif\.transforms\.sparse\.WindowedSparseInc'>",
)
