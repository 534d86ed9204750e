"""Windowed sparse transforms: nengo, nengo-dl and the sparse matrix agree."""

import copy

import nengo
import numpy as np
import pytest
from nengo.exceptions import BuildError, ValidationError

from nengo_softlif.compat import set_trainable
from nengo_softlif.transforms.sparse import AveragePoolSparse, LocallyConnectedSparse


def _transform(rng, in_shape=(5, 6, 3), filters=4, kernel=3, stride=1, padding=1):
    geometry = LocallyConnectedSparse(in_shape, filters, kernel, stride, padding)
    return geometry.with_weights(rng.normal(size=len(geometry.indices)))


def _dense(transform):
    matrix = np.zeros(transform.shape)
    rows, cols = transform.indices.T
    matrix[rows, cols] = transform.init.data
    return matrix


def _explicit(transform, x):
    """Unshared convolution written with loops over output pixels (reference)."""
    h, w, c = transform.input_shape
    out_h, out_w, f = transform.output_shape
    k, s, p = transform.kernel, transform.stride, transform.padding
    image = np.pad(x.reshape(h, w, c), ((p, p), (p, p), (0, 0)))
    dense = np.zeros((out_h * out_w, k, k, c, f))
    dense.flat[transform.dense_positions()] = transform.init.data
    out = np.zeros((out_h, out_w, f))
    for i in range(out_h):
        for j in range(out_w):
            patch = image[i * s : i * s + k, j * s : j * s + k]
            out[i, j] = np.einsum("abc,abcf->f", patch, dense[i * out_w + j])
    return out.ravel()


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 0), (2, 1), (1, 0)])
def test_sparse_matrix_is_the_unshared_convolution(rng, stride, padding):
    transform = _transform(rng, stride=stride, padding=padding)
    x = rng.normal(size=transform.size_in)
    assert transform.size_out == int(np.prod(transform.output_shape))
    np.testing.assert_allclose(_dense(transform) @ x, _explicit(transform, x))


def _run(simulator, transform, x, **kwargs):
    with nengo.Network() as net:
        inp = nengo.Node(x)
        out = nengo.Node(size_in=transform.size_out)
        nengo.Connection(inp, out, transform=transform, synapse=None)
        probe = nengo.Probe(out)
    with simulator(net, progress_bar=False, **kwargs) as sim:
        sim.step()
        return sim.data[probe][0]


def _nengo_dl_pool(nengo_dl, pool, x, trainable):
    """A pool's output in nengo-dl (float64), its weights trainable or fixed."""
    with nengo.Network() as net:
        nengo_dl.configure_settings(dtype="float64")
        inp = nengo.Node(x)
        out = nengo.Node(size_in=pool.size_out)
        conn = nengo.Connection(inp, out, transform=pool, synapse=None)
        set_trainable(net.config, conn, trainable)
        probe = nengo.Probe(out)
    with nengo_dl.Simulator(net, progress_bar=False) as sim:
        sim.step()
        return sim.data[probe][0]


def test_nengo_builder_applies_the_sparse_matrix(rng):
    transform = _transform(rng)
    x = rng.normal(size=transform.size_in)
    np.testing.assert_allclose(
        _run(nengo.Simulator, transform, x), _dense(transform) @ x, rtol=1e-12
    )


def test_nengo_dl_matches_nengo_sparse_and_its_gradient(rng):
    nengo_dl = pytest.importorskip("nengo_dl")
    import tensorflow as tf  # noqa: PLC0415

    transform = _transform(rng, stride=2, padding=1)
    plain = nengo.Sparse(
        transform.shape, indices=transform.indices, init=transform.init.data
    )
    x = rng.normal(size=(4, 1, transform.size_in))
    target = rng.normal(size=(4, 1, transform.size_out))
    results = []
    for t in (transform, plain):
        with nengo.Network() as net:
            nengo_dl.configure_settings(dtype="float64")
            inp = nengo.Node(np.zeros(transform.size_in))
            out = nengo.Node(size_in=transform.size_out)
            conn = nengo.Connection(inp, out, transform=t, synapse=None)
            probe = nengo.Probe(out)
        with nengo_dl.Simulator(net, minibatch_size=4, progress_bar=False) as sim:
            y = sim.predict_on_batch({inp: x})[probe]
            sim.compile(optimizer=tf.optimizers.SGD(1.0), loss=tf.losses.mse)
            sim.fit({inp: x}, {probe: target}, epochs=1, verbose=0)
            sim.freeze_params(net)
        results.append((y, np.asarray(conn.transform.init.data)))
        if t is transform:
            assert type(conn.transform) is LocallyConnectedSparse
    (y_local, w_local), (y_plain, w_plain) = results
    np.testing.assert_allclose(y_local, y_plain, rtol=1e-10, atol=1e-12)
    assert np.abs(w_local - transform.init.data).max() > 1e-3  # it learned
    np.testing.assert_allclose(w_local, w_plain, rtol=1e-8, atol=1e-12)


def test_copy_checkpoint_and_fast_backend_keep_the_geometry(rng, tmp_path):
    from nengo_softlif.backends.fast.simulator import transform_matrix  # noqa: PLC0415

    transform = _transform(rng)
    copied = copy.deepcopy(transform)
    assert copied.output_shape == transform.output_shape
    np.testing.assert_array_equal(copied.indices, transform.indices)
    np.testing.assert_array_equal(copied.init.data, transform.init.data)
    values = rng.normal(size=len(transform.indices))
    replaced = transform.with_weights(values)
    assert type(replaced) is LocallyConnectedSparse
    np.testing.assert_array_equal(replaced.init.data, values)
    with nengo.Network():
        a = nengo.Node(np.zeros(transform.size_in))
        b = nengo.Node(size_in=transform.size_out)
        conn = nengo.Connection(a, b, transform=transform, synapse=None)
    matrix = transform_matrix(conn)
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else matrix
    np.testing.assert_allclose(np.asarray(matrix), _dense(transform))


def test_bad_geometry_and_decoded_connections_raise(rng):
    with pytest.raises(ValidationError, match="does not fit"):
        LocallyConnectedSparse((2, 2, 1), 3, 5)
    with pytest.raises(ValidationError, match="height, width, channels"):
        LocallyConnectedSparse((4, 4), 3, 3)
    transform = _transform(rng, in_shape=(2, 2, 1), filters=1, kernel=1, padding=0)
    with nengo.Network() as net:
        ens = nengo.Ensemble(10, 4)
        nengo.Connection(ens, nengo.Node(size_in=4), transform=transform)
    with pytest.raises(BuildError, match="neuron-to-neuron"):
        nengo.Simulator(net, progress_bar=False)


@pytest.mark.parametrize(
    "in_shape,size,stride,same",
    [
        ((28, 28, 2), 2, 2, True),
        ((24, 24, 3), 3, 2, True),
        ((7, 7, 1), 3, 3, False),
        ((6, 6, 1), 3, 1, False),
    ],
)
def test_average_pool_windows_and_tensorflow_equivalence(
    rng, in_shape, size, stride, same
):
    nengo_dl = pytest.importorskip("nengo_dl")
    import tensorflow as tf  # noqa: PLC0415

    pool = AveragePoolSparse(in_shape, size, stride)
    assert pool.same_padding is same
    x = rng.uniform(size=pool.size_in)
    matrix = _dense(pool)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)  # averages
    np.testing.assert_allclose(_run(nengo.Simulator, pool, x), matrix @ x, rtol=1e-12)
    if same:  # what the nengo-dl builder computes
        tf_pool = tf.nn.avg_pool2d(x.reshape((1,) + in_shape), size, stride, "SAME")
        np.testing.assert_allclose(tf_pool.numpy().ravel(), matrix @ x, rtol=1e-12)
    for trainable in (False, True):  # avg_pool2d, or the general sparse product
        np.testing.assert_allclose(
            _nengo_dl_pool(nengo_dl, pool, x, trainable), matrix @ x, rtol=1e-10
        )
    assert pool.with_weights(pool.init.data) is pool
    with pytest.raises(ValueError, match="fixed"):
        pool.with_weights(np.ones(len(pool.indices)))


@pytest.mark.parametrize(
    "in_shape,size,stride", [((24, 24, 3), 3, 2), ((7, 7, 1), 3, 3)]
)
def test_padded_pool_divides_by_the_window(rng, in_shape, size, stride):
    """edges="padded": windows past the far edge divide by size**2 (the missing
    pixels zero), on nengo and in nengo-dl (zeros, then "VALID" pooling)."""
    nengo_dl = pytest.importorskip("nengo_dl")
    pool = AveragePoolSparse(in_shape, size, stride, edges="padded")
    clipped = AveragePoolSparse(in_shape, size, stride)
    assert not pool.same_padding and pool.far_padding == clipped.far_padding != (0, 0)
    np.testing.assert_allclose(pool.init.data, 1.0 / size**2)
    matrix = _dense(pool)
    # the windows are the clipped pool's, scaled by covered / size**2
    covered = (_dense(clipped) > 0).sum(axis=1)
    np.testing.assert_allclose(matrix, _dense(clipped) * (covered / size**2)[:, None])
    x = rng.uniform(size=pool.size_in)
    np.testing.assert_allclose(_run(nengo.Simulator, pool, x), matrix @ x, rtol=1e-12)
    np.testing.assert_allclose(
        _nengo_dl_pool(nengo_dl, pool, x, False), matrix @ x, rtol=1e-10
    )
    with pytest.raises(ValidationError, match="edges must be one of"):
        AveragePoolSparse(in_shape, size, stride, edges="same")
