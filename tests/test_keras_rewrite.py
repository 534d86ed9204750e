"""Keras models as people write them: activations swapped, batch norm folded."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
nsl_keras = pytest.importorskip("nengo_softlif.keras")

from nengo_softlif.keras import (  # noqa: E402
    LocallyConnected,
    RectifiedLinearRates,
    SoftLIF,
    from_keras,
    keras_model,
    rewrite_model,
)
from nengo_softlif.neurons.softlif import RectifiedLinear  # noqa: E402

layers = tf.keras.layers
RELU = {"relu": RectifiedLinearRates}


def _randomize(model, rng):
    """Random weights and random nonzero batch-norm statistics."""
    for layer in model.layers:
        for var in layer.weights:
            name = var.name.split("/")[-1]
            if name.startswith(("moving_variance", "gamma")):
                value = rng.uniform(0.5, 2.0, var.shape)
            elif name.startswith(("moving_mean", "beta")):
                value = rng.normal(0, 0.5, var.shape)
            elif name.startswith(("kernel", "bias")):
                value = rng.normal(0, 0.5, var.shape)
            else:
                continue
            var.assign(value.astype(np.float32))
    return model


def _images(rng, n=6, shape=(8, 8, 2)):
    return rng.uniform(-1, 1, (n,) + shape).astype(np.float32)


def _close(got, expected):
    scale = np.abs(expected).max()
    assert scale > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * scale)


def _as_written(variant):
    """A user's model: conv + batch norm before the activation, in some variant."""
    inp = tf.keras.Input((8, 8, 2))
    if variant == "relu in the layer":
        x = layers.Conv2D(4, 3, activation="relu", name="conv1")(inp)
    else:
        x = layers.Conv2D(4, 3, use_bias=variant != "ReLU layer", name="conv1")(inp)
        x = layers.BatchNormalization(name="bn1")(x)
        x = (
            layers.ReLU(name="relu1")(x)
            if variant == "ReLU layer"
            else (
                layers.Activation(tf.nn.relu, name="relu1")(x)
                if variant == "Activation(tf.nn.relu)"
                else layers.Activation("relu", name="relu1")(x)
            )
        )
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.BatchNormalization(center=False, name="bn2")(x)
    x = layers.Activation("relu", name="relu2")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5, name="fc")(x)
    x = layers.BatchNormalization(scale=False, name="bn3")(x)
    x = layers.ReLU(name="relu3")(x)
    return tf.keras.Model(inp, layers.Dense(3, name="out")(x), name="as_written")


@pytest.mark.parametrize(
    "variant",
    ["relu in the layer", "ReLU layer", "Activation('relu')", "Activation(tf.nn.relu)"],
)
def test_relu_swapped_and_batch_norm_folded_give_the_models_outputs(variant, rng):
    model = _randomize(_as_written(variant), rng)
    images = _images(rng)
    expected = model.predict(images, verbose=0)
    net = from_keras(model, swap_activations=RELU)
    first = (
        ["conv1: relu -> RectifiedLinearRates()"]
        if variant == "relu in the layer"
        else ["bn1: folded into conv1", "relu1: relu -> RectifiedLinearRates()"]
    )
    assert list(net.keras_rewrites) == first + [
        "bn2: folded into conv2",
        "relu2: relu -> RectifiedLinearRates()",
        "bn3: folded into fc",
        "relu3: relu -> RectifiedLinearRates()",
    ]
    _close(keras_model(net)(images.reshape(len(images), -1)).numpy(), expected)
    # the given model is left as it was
    assert any(isinstance(la, layers.BatchNormalization) for la in model.layers)
    np.testing.assert_array_equal(model.predict(images, verbose=0), expected)


def test_swapped_network_runs_in_nengo_as_keras_runs_the_model(rng):
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415

    model = _randomize(_as_written("ReLU layer"), rng)
    images = _images(rng, 4)
    net = from_keras(model, swap_activations={tf.keras.activations.relu: RELU["relu"]})
    result = evaluate(net, images.reshape(4, -1), np.zeros(4, int), backend="nengo")
    _close(result.outputs, model.predict(images, verbose=0))


def test_nengo_dl_tutorial_model_as_written_converts_with_softlif(rng):
    """Conv2D 32 3x3 relu -> Conv2D 64 3x3 stride 2 relu -> Dense 10."""
    from nengo_softlif.neurons.softlif import SoftLIFRate  # noqa: PLC0415

    inp = tf.keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation=tf.nn.relu, name="conv1")(inp)
    x = layers.Conv2D(64, 3, strides=2, activation=tf.nn.relu, name="conv2")(x)
    model = tf.keras.Model(inp, layers.Dense(10)(layers.Flatten()(x)))
    with pytest.raises(TypeError, match="swap_activations="):
        from_keras(model)
    net = from_keras(
        model,
        swap_activations={"relu": SoftLIF.from_preset("mnist", noise="gaussian:10")},
    )
    assert [r.split(":")[0] for r in net.keras_rewrites] == ["conv1", "conv2"]
    assert all("-> SoftLIF(" in r and "gaussian:10" in r for r in net.keras_rewrites)
    assert isinstance(net.neuron_type, SoftLIFRate)
    assert [type(s).__name__ for s in net.architecture.layers] == [
        "Conv",
        "Conv",
        "Output",
    ]


def _weight_then_bn(kind, bn_options):
    """A weight layer of ``kind``, batch norm, SoftLIF neurons, a read-out."""
    inp = tf.keras.Input((6, 6, 2))
    x = inp
    if kind == "Dense":
        x = layers.Dense(7)(layers.Flatten()(x))
    elif kind == "Conv2D":
        x = layers.Conv2D(3, 3, padding="same")(x)
    elif kind.startswith("LocallyConnected2D"):
        x = layers.LocallyConnected2D(3, 3, implementation=int(kind[-1]))(x)
    else:
        x = LocallyConnected(3, 3, padding=1)(x)
    x = layers.BatchNormalization(**bn_options)(x)
    x = SoftLIF.from_preset("cifar10", name="neurons")(x)
    return tf.keras.Model(inp, layers.Dense(2)(layers.Flatten()(x)))


@pytest.mark.parametrize(
    "kind",
    ["Dense", "Conv2D", "LocallyConnected2D-1", "LocallyConnected2D-2", "package"],
)
@pytest.mark.parametrize("bn_options", [{}, {"center": False, "scale": False}])
def test_batch_norm_folds_into_every_weight_layer(kind, bn_options, rng):
    model = _randomize(_weight_then_bn(kind, bn_options), rng)
    neurons = model.get_layer("neurons")
    neurons.bias.assign(rng.uniform(1.0, 2.0, neurons.bias.shape))
    images = _images(rng, shape=(6, 6, 2))
    expected = model(images, training=False).numpy()
    rewritten = rewrite_model(model)
    assert not any(
        isinstance(la, layers.BatchNormalization) for la in rewritten.model.layers
    )
    assert len(rewritten.changes) == 1 and "folded into" in rewritten.changes[0]
    _close(rewritten.model(images).numpy(), expected)
    net = from_keras(model)
    _close(keras_model(net)(images.reshape(len(images), -1)).numpy(), expected)


def test_rewritten_model_converts_natively_in_nengo_dl(rng):
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415
    from nengo_softlif.keras.converters import check_convertible  # noqa: PLC0415
    from nengo_softlif.neurons.softlif import RectifiedLinear  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    model = _randomize(_as_written("ReLU layer"), rng)
    problems = check_convertible(model)
    assert any(
        p.startswith("bn1 (BatchNormalization)") and "rewrite_model" in p
        for p in problems
    )
    new = rewrite_model(model, swap_activations=RELU).model
    assert check_convertible(new) == []
    converter = nengo_dl.Converter(new, allow_fallback=False)
    assert {type(e.neuron_type) for e in converter.net.all_ensembles} == {
        RectifiedLinear
    }
    images = _images(rng, 4)
    with nengo_dl.Simulator(converter.net, minibatch_size=4, progress_bar=False) as sim:
        out = sim.predict({converter.inputs[new.inputs[0]]: images.reshape(4, 1, -1)})
    _close(
        out[converter.outputs[new.outputs[0]]][:, 0], model.predict(images, verbose=0)
    )


def test_softmax_at_the_end_is_dropped_and_said(rng):
    inp = tf.keras.Input((4,))
    x = layers.Dense(5, activation="relu")(inp)
    out = layers.Dense(3, activation="softmax", name="out")(x)
    model = _randomize(tf.keras.Model(inp, out), rng)
    net = from_keras(model, swap_activations=RELU)
    assert net.keras_rewrites[-1].startswith("out: softmax dropped")
    x = rng.normal(size=(5, 4)).astype(np.float32)
    logits = keras_model(net)(x).numpy()
    _close(tf.nn.softmax(logits).numpy(), model.predict(x, verbose=0))


def test_a_sequential_model_is_rewritten(rng):
    model = tf.keras.Sequential(
        [
            layers.Conv2D(3, 3, input_shape=(6, 6, 2), name="conv"),
            layers.BatchNormalization(name="bn"),
            layers.ReLU(name="relu"),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    _randomize(model, rng)
    images = _images(rng, shape=(6, 6, 2))
    net = from_keras(model, swap_activations=RELU)
    assert net.keras_rewrites == (
        "bn: folded into conv",
        "relu: relu -> RectifiedLinearRates()",
    )
    _close(
        keras_model(net)(images.reshape(len(images), -1)).numpy(),
        model.predict(images, verbose=0),
    )


def test_leaky_relu_layers_swap_by_name():
    model = _chain(layers.Conv2D(3, 3), layers.LeakyReLU(name="leaky"))
    with pytest.raises(TypeError, match="swap_activations={'leaky_relu'"):
        from_keras(model)
    net = from_keras(
        model, swap_activations={"leaky_relu": SoftLIF.from_preset("mnist")}
    )
    assert net.keras_rewrites[0].startswith("leaky: leaky_relu -> SoftLIF(")


def test_a_model_with_nothing_to_rewrite_is_kept():
    inp = tf.keras.Input((4,))
    x = SoftLIF(bias=1.0)(layers.Dense(5)(inp))
    model = tf.keras.Model(inp, layers.Dense(2)(x))
    assert rewrite_model(model) == (model, ())
    assert from_keras(model).keras_rewrites == ()
    with pytest.warns(UserWarning, match="swap_activations contained \\['tanh'\\]"):
        rewrite_model(model, swap_activations={"tanh": RectifiedLinearRates})


def _chain(*made):
    inp = tf.keras.Input((6, 6, 2))
    x = inp
    for layer in made:
        x = layer(x)
    return tf.keras.Model(inp, layers.Dense(2)(layers.Flatten()(x)))


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda: _chain(
                layers.Conv2D(3, 3, activation="relu", name="conv"),
                layers.BatchNormalization(name="bn"),
            ),
            [
                "'bn' (BatchNormalization) normalises the relu output of 'conv'",
                "then BatchNormalization, then the activation",
            ],
        ),
        (
            lambda: _chain(
                layers.Conv2D(3, 3),
                layers.ReLU(name="relu"),
                layers.BatchNormalization(name="bn"),
            ),
            ["'bn' (BatchNormalization) follows 'relu'", "move it there"],
        ),
        (
            lambda: _chain(layers.BatchNormalization(name="bn"), layers.Conv2D(3, 3)),
            ["'bn' (BatchNormalization) follows 'the input'"],
        ),
        (
            lambda: _chain(
                layers.Conv2D(3, 3, name="conv"), layers.BatchNormalization(axis=1)
            ),
            ["normalises axis [1], not the channels", "into 'conv'", "axis=-1"],
        ),
        (
            lambda: _chain(layers.Conv2D(3, 3, activation="elu", name="conv")),
            [
                "'conv' (Conv2D) has activation 'elu'",
                "pass swap_activations={'elu': RectifiedLinearRates}",
            ],
        ),
        (
            lambda: _chain(
                layers.Conv2D(3, 3), layers.Activation("softmax", name="sm")
            ),
            ["'sm' (Activation) has activation 'softmax'", "acts across units"],
        ),
        (
            lambda: _chain(layers.Conv2D(3, 3), layers.ReLU(max_value=6, name="relu")),
            ["'relu' (ReLU) has a max_value", "use ReLU() without arguments"],
        ),
        (
            lambda: _chain(
                layers.Conv2D(3, 3),
                layers.AveragePooling2D(2, name="pool"),
                layers.ReLU(name="relu"),
            ),
            ["'relu' (ReLU, relu) follows 'pool'", "move it there"],
        ),
        (
            lambda: _chain(
                layers.Conv2D(3, 3, activation="relu", name="conv"),
                SoftLIF(name="lif"),
            ),
            ["'lif' (SoftLIF) follows 'conv'", "remove the activation"],
        ),
    ],
)
def test_what_cannot_be_rewritten_is_named_with_what_to_do(make, words):
    with pytest.raises(TypeError) as info:
        from_keras(make(), swap_activations={"relu": RectifiedLinearRates})
    for word in words:
        assert word in str(info.value)


def test_batch_norm_is_refused_when_not_folded():
    model = _chain(layers.Conv2D(3, 3), layers.BatchNormalization(), SoftLIF())
    with pytest.raises(TypeError, match="pass fold_batch_norm=True to fold"):
        from_keras(model, fold_batch_norm=False)


def test_batch_norm_of_a_branched_layer_is_refused():
    inp = tf.keras.Input((4,))
    x = layers.Dense(4, name="dense")(inp)
    y = layers.BatchNormalization(name="bn")(x)
    model = tf.keras.Model(inp, layers.Dense(2)(layers.Add(name="sum")([x, y])))
    with pytest.raises(TypeError, match="'bn' .* whose output \\['sum'\\] read too"):
        from_keras(model)


@pytest.mark.parametrize(
    "value, words",
    [
        ("relu", "swap_activations['relu'] is 'relu'"),
        ({"bad key": 1}, "key 'bad key', which is not a Keras activation"),
        (
            RectifiedLinear(),
            "nengo neuron types are for nengo_dl.Converter's own swap_activations",
        ),
        (lambda: tf.keras.layers.ReLU(), "returned <"),
    ],
)
def test_bad_swap_values_are_refused(value, words):
    model = _chain(layers.Conv2D(3, 3, activation="relu"))
    swaps = {"relu": value} if not isinstance(value, dict) else value
    with pytest.raises(ValueError) as info:
        from_keras(model, swap_activations=swaps)
    assert words in str(info.value)
    if not isinstance(value, dict):
        assert "SoftLIF, RectifiedLinearRates" in str(info.value)
