"""Keras models that from_keras cannot read end in an error naming what to change."""

import pytest

from nengo_softlif import PRESETS
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.layers import Conv, Output

tf = pytest.importorskip("tensorflow")
nsl_keras = pytest.importorskip("nengo_softlif.keras")
from nengo_softlif.keras.converters import check_convertible  # noqa: E402

layers = tf.keras.layers


def _conv_model(shape=(8, 8, 2), **conv):
    inp = tf.keras.Input(shape)
    x = nsl_keras.SoftLIF()(layers.Conv2D(2, **conv)(inp))
    return tf.keras.Model(inp, layers.Dense(2)(layers.Flatten()(x)))


def _two_inputs():
    a, b = tf.keras.Input((4,)), tf.keras.Input((4,))
    x = nsl_keras.SoftLIF()(layers.Dense(3)(layers.Concatenate()([a, b])))
    return tf.keras.Model([a, b], layers.Dense(2)(x))


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda: _conv_model(kernel_size=4, padding="same"),
            [
                "'conv2d",
                "padding='same' with an even kernel (4)",
                "use an odd kernel, or padding='valid'",
            ],
        ),
        (
            lambda: _conv_model((2, 8, 8), kernel_size=3, data_format="channels_first"),
            ["data_format='channels_first'", "use data_format='channels_last'"],
        ),
        (
            lambda: _conv_model(kernel_size=3, groups=2),
            ["grouped convolution (groups=2); use groups=1"],
        ),
        (
            lambda: _conv_model(kernel_size=(3, 2)),
            ["kernel (3, 2): use a square kernel"],
        ),
        (_two_inputs, ["has 2 inputs and 1 outputs", "one input (the image)"]),
        (
            lambda: tf.keras.Sequential(
                [layers.Dense(3), nsl_keras.SoftLIF(), layers.Dense(2)]
            ),
            ["has no input shape yet", "tf.keras.Input(shape)", "model.build("],
        ),
        (
            lambda: "model.h5",
            [
                "model must be a tf.keras.Model, got str 'model.h5'",
                "tf.keras.models.load_model(path)",
            ],
        ),
        (lambda: None, ["model must be a tf.keras.Model, got NoneType None"]),
    ],
    ids=[
        "conv-same-even-kernel",
        "channels-first",
        "groups",
        "non-square-kernel",
        "two-inputs",
        "sequential-without-input",
        "string",
        "none",
    ],
)
def test_from_keras_says_what_to_change(make, words):
    with pytest.raises(TypeError) as info:
        nsl_keras.from_keras(make())
    for word in words:
        assert word in str(info.value)


def test_a_sequential_model_built_with_its_input_shape_converts():
    model = tf.keras.Sequential([layers.Dense(3), nsl_keras.SoftLIF(), layers.Dense(2)])
    model.build((None, 4))
    net = nsl_keras.from_keras(model)
    assert net.inp.size_out == 4 and net.out.size_out == 2


@pytest.mark.parametrize("model", ["model.h5", None])
def test_check_convertible_refuses_what_is_not_a_model(model):
    with pytest.raises(TypeError, match="model must be a tf.keras.Model"):
        check_convertible(model)


def test_check_convertible_refuses_a_model_without_input_shape():
    model = tf.keras.Sequential([layers.Dense(3)])
    with pytest.raises(TypeError, match="has no input shape yet"):
        check_convertible(model)


@pytest.mark.parametrize(
    "kernel, padding, words",
    [
        (4, 1, "an even kernel has no 'same' padding"),
        (5, 1, "use 0 ('valid') or 2 ('same')"),
    ],
)
def test_conv_padding_message_does_not_contradict_itself(kernel, padding, words):
    preset = PRESETS["cifar10"]
    arch = Architecture(
        "conv", (8, 8, 1), (Conv(2, kernel, padding=padding), Output(2))
    )
    with pytest.raises(ValueError) as info:
        build_network(arch, preset.soft_lif(), preset)
    assert words in str(info.value)
    assert f"padding {padding} with kernel {kernel}" in str(info.value)
