"""Keras models with residual Add and Concatenate merges as the package's networks."""

import numpy as np
import pytest

from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.checkpoint import get_params, load_network, save_checkpoint
from nengo_softlif.network.convert import to_spiking
from nengo_softlif.network.merges import Add, Concatenate
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

tf = pytest.importorskip("tensorflow")
nsl_keras = pytest.importorskip("nengo_softlif.keras")
layers = tf.keras.layers

RELU = nsl_keras.RectifiedLinearRates(gain=100.0, amplitude=0.01)
PROTOCOL = Protocol(presentation_time=0.03, t_start=0.01, t_end=0.03)


def _conv_bn(x, filters, stride=1, kernel=3):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization()(x)


def _randomise_batch_norm(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),
                    rng.uniform(-0.5, 0.5, n),
                    rng.uniform(-0.2, 0.2, n),
                    rng.uniform(0.5, 2.0, n),
                ]
            )
    return model


def residual_model():
    """Conv-BN-ReLU, an identity block, a strided block with a 1x1 projection."""
    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((8, 8, 2))
    x = layers.ReLU()(_conv_bn(inputs, 4))
    y = layers.ReLU()(_conv_bn(x, 4))
    x = layers.ReLU()(layers.Add()([_conv_bn(y, 4), x]))
    y = layers.Conv2D(6, 3, 2, padding="same", activation="relu")(x)
    skip = _conv_bn(x, 6, stride=2, kernel=1)
    x = layers.Activation("relu")(layers.Add()([_conv_bn(y, 6), skip]))
    x = layers.AveragePooling2D(2)(x)
    outputs = layers.Dense(3)(layers.Flatten()(x))
    return _randomise_batch_norm(tf.keras.Model(inputs, outputs, name="residual"))


def concatenate_model():
    """Two branches joined along the channels, then neurons and pooling."""
    tf.keras.utils.set_random_seed(1)
    inputs = tf.keras.Input((8, 8, 2))
    a = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(2, 1, activation="relu")(inputs)
    x = layers.Concatenate()([a, b])
    x = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Concatenate(axis=-1)([x, layers.AveragePooling2D(1)(a)])
    x = layers.AveragePooling2D(2)(x)
    outputs = layers.Dense(3)(layers.Flatten()(x))
    return _randomise_batch_norm(tf.keras.Model(inputs, outputs, name="concat"))


def _images(n=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, 8, 8, 2)).astype(np.float32)


@pytest.fixture(scope="module", params=[residual_model, concatenate_model])
def converted(request):
    model = request.param()
    net = nsl_keras.from_keras(model, swap_activations={"relu": RELU})
    return model, net


def test_static_network_is_the_keras_model(converted):
    model, net = converted
    images = _images()
    expected = model.predict(images, verbose=0)
    for backend in ("nengo", "nengo-dl"):
        result = evaluate(net, images.reshape(3, -1), np.zeros(3, int), backend=backend)
        np.testing.assert_allclose(
            result.outputs, expected, rtol=1e-5, atol=1e-5, err_msg=backend
        )


def test_residual_model_reads_as_blocks():
    net = nsl_keras.from_keras(residual_model(), swap_activations={"relu": RELU})
    specs = net.architecture.layers
    adds = [s for s in specs if isinstance(s, Add)]
    assert len(adds) == 2 and all(s.neurons for s in adds)
    assert adds[0].inputs == ("conv3", "conv1")  # identity skip
    linear = [s for s in specs if getattr(s, "neurons", True) is False]
    assert [s.kernel for s in linear] == [3, 3, 1]  # two block ends, a projection
    assert sum("folded" in c for c in net.keras_rewrites) == 5


def test_converted_graph_spikes_on_every_backend(converted):
    _, net = converted
    spiking = to_spiking(net)
    images = _images(2).reshape(2, -1)
    labels = np.zeros(2, int)
    one = {"fast": {"minibatch_size": 1}, "nengo-dl": {"minibatch_size": 1}}
    results = {
        backend: evaluate(
            spiking, images, labels, PROTOCOL, backend=backend, **one.get(backend, {})
        )
        for backend in ("nengo", "fast", "nengo-dl")
    }
    assert min(results["nengo"].layer_rates.values()) > 1
    for backend, result in results.items():
        assert np.all(np.isfinite(result.outputs)), backend
    exact = evaluate(
        spiking,
        images,
        labels,
        PROTOCOL,
        backend="fast",
        minibatch_size=1,
        dtype="float64",
    )
    np.testing.assert_allclose(
        exact.outputs, results["nengo"].outputs, rtol=1e-9, atol=1e-9
    )


def test_converted_graph_checkpoint_round_trip(converted, tmp_path):
    _, net = converted
    save_checkpoint(tmp_path / "net.npz", net)
    loaded, _ = load_network(tmp_path / "net.npz")
    assert loaded.architecture == net.architecture
    images = _images().reshape(3, -1)
    before = evaluate(net, images, np.zeros(3, int), backend="nengo")
    after = evaluate(loaded, images, np.zeros(3, int), backend="nengo")
    np.testing.assert_array_equal(after.outputs, before.outputs)


def test_keras_model_of_a_graph_network_and_keras_engine(converted, tmp_path):
    """keras_model computes the network; the Keras engine trains it."""
    _, net = converted
    images = _images(32, seed=2).reshape(32, -1)
    model = nsl_keras.keras_model(net)
    static = evaluate(net, images[:3], np.zeros(3, int), backend="nengo")
    np.testing.assert_allclose(
        model.predict(images[:3], verbose=0), static.outputs, rtol=1e-5, atol=1e-5
    )
    assert any(isinstance(layer, layers.Add) for layer in model.layers) or any(
        isinstance(layer, layers.Concatenate) for layer in model.layers
    )
    before = get_params(net)
    labels = np.random.default_rng(3).integers(0, 3, 32)
    config = TrainConfig(epochs=1, minibatch_size=16, engine="keras")
    train(net, ArrayData(images, labels), config, tmp_path / "c.npz", verbose=0)
    after = get_params(net)
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    loaded, _ = load_network(tmp_path / "c.npz")
    for key, value in get_params(loaded).items():
        np.testing.assert_array_equal(value, after[key], err_msg=key)


def _merge_of(merge):
    inputs = tf.keras.Input((8, 8, 2))
    a = layers.Conv2D(2, 1, name="a")(inputs)
    b = layers.Conv2D(2, 1, name="b")(inputs)
    x = merge([a, b])
    return tf.keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda: _merge_of(layers.Multiply(name="mul")),
            ["'mul' (Multiply)", "only Add and Concatenate merges"],
        ),
        (
            lambda: _merge_of(layers.Subtract(name="sub")),
            ["'sub' (Subtract)", "write the model with Add or Concatenate"],
        ),
        (
            lambda: _merge_of(layers.Concatenate(axis=1, name="cat")),
            ["'cat' (Concatenate)", "concatenates axis 1", "Concatenate(axis=-1)"],
        ),
    ],
)
def test_merges_without_an_equivalent_are_refused_by_name(make, words):
    with pytest.raises(TypeError) as info:
        nsl_keras.from_keras(make())
    for word in words:
        assert word in str(info.value)


def test_merging_different_shapes_is_refused_by_name():
    inputs = tf.keras.Input((8, 8, 2))
    a = layers.Conv2D(2, 1, name="a")(inputs)
    b = layers.Conv2D(2, 1, name="b")(layers.AveragePooling2D(8)(inputs))
    x = layers.Add(name="sum")([a, b])  # Keras broadcasts (1, 1, 2)
    model = tf.keras.Model(inputs, layers.Dense(2)(layers.Flatten()(x)))
    with pytest.raises(TypeError) as info:
        nsl_keras.from_keras(model)
    for word in ("'sum' (Add)", "(8, 8, 2), (1, 1, 2)", "1x1 Conv2D projection"):
        assert word in str(info.value)


def test_shared_layers_are_refused():
    inputs = tf.keras.Input((4,))
    dense = layers.Dense(4, name="shared")
    x = layers.Add()([dense(inputs), dense(inputs)])
    model = tf.keras.Model(inputs, layers.Dense(2)(x))
    with pytest.raises(TypeError, match="'shared' .* is used more than once"):
        nsl_keras.from_keras(model)


def test_concatenate_spec_of_keras_concatenate():
    net = nsl_keras.from_keras(concatenate_model(), swap_activations={"relu": RELU})
    joins = [s for s in net.architecture.layers if isinstance(s, Concatenate)]
    assert [j.neurons for j in joins] == [False, False]
    assert joins[1].inputs[1] == "pool1"
