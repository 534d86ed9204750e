"""nengo-dl builder of the locally-connected transform: patches and a batched matmul.

Registered with nengo-dl's ``Builder`` on import (which happens automatically when
``nengo_dl`` is imported, see :mod:`nengo_softlif.lazy`). The weights stay the
transform's non-zero vector (the trainable parameter, as for `nengo.Sparse`); each
step scatters them into a dense ``(pixels, kernel*kernel*channels, filters)``
tensor (padding positions zero) and computes, for a minibatch ``B``,
``Y[b, p, f] = sum_k patches[b, p, k] W[p, k, f]``. Forward and gradient cost
``O(B * nnz)`` without the ``(nnz x B)`` intermediate of a sparse matmul's weight
gradient.
"""

import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.local import LocallyConnectedSet

nengo_dl = import_nengo_dl()
import tensorflow as tf  # noqa: E402  (nengo-dl must be imported first: aliases)
from nengo_dl.builder import Builder, OpBuilder  # noqa: E402

__all__ = ["LocallyConnectedSetBuilder"]


@Builder.register(LocallyConnectedSet)
class LocallyConnectedSetBuilder(OpBuilder):
    """Build a `.LocallyConnectedSet` (one operator per builder: not mergeable)."""

    def build_pre(self, signals, config):
        super().build_pre(signals, config)
        (op,) = self.ops
        transform = op.transform
        self.W_data = signals[op.W]
        self.X_data = signals[op.X]
        self.Y_data = signals[op.Y]
        if self.W_data.minibatched:
            raise NotImplementedError(
                "Locally-connected weights cannot be minibatched (online learning "
                "rules are not supported on this transform)"
            )
        h, w, channels = transform.input_shape
        out_h, out_w, n_filters = transform.output_shape
        k, pad = transform.kernel, transform.padding
        self.in_shape = (-1, h, w, channels)
        self.paddings = tf.constant([[0, 0], [pad, pad], [pad, pad], [0, 0]])
        self.window = [1, k, k, 1]
        self.strides = [1, transform.stride, transform.stride, 1]
        self.patch_shape = (-1, out_h * out_w, k * k * channels)
        self.dense_shape = (out_h * out_w, k * k * channels, n_filters)
        self.positions = tf.constant(
            transform.dense_positions().astype(np.int64)[:, None]
        )
        self.out_size = out_h * out_w * n_filters

    def build_step(self, signals):
        values = signals.gather(self.W_data)
        x = signals.gather(self.X_data)
        dense = tf.scatter_nd(
            self.positions,
            tf.reshape(values, (-1,)),
            (int(np.prod(self.dense_shape)),),
        )
        dense = tf.reshape(dense, self.dense_shape)
        image = tf.pad(tf.reshape(x, self.in_shape), self.paddings)
        patches = tf.image.extract_patches(
            image, self.window, self.strides, [1, 1, 1, 1], "VALID"
        )
        patches = tf.reshape(patches, self.patch_shape)
        y = tf.einsum("bpk,pkf->bpf", patches, dense)
        y = tf.reshape(y, (-1, self.out_size))
        y.set_shape((signals.minibatch_size,) + self.Y_data.shape)
        signals.scatter(self.Y_data, y, mode="update")
