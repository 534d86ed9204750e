"""The Keras guide's recipe: SoftLIF's defaults, and a model that learns like ReLU."""

import nengo
import numpy as np
import pytest

from nengo_softlif.data import load_embedded_mnist
from nengo_softlif.neurons.softlif import PRESETS

tf = pytest.importorskip("tensorflow")
nsl_keras = pytest.importorskip("nengo_softlif.keras")
SoftLIF = nsl_keras.SoftLIF


def hard_lif(J, preset):
    """Hard LIF rates times the amplitude, by nengo."""
    lif = nengo.LIFRate(tau_rc=preset.tau_rc, tau_ref=preset.tau_ref)
    return np.ravel(lif.rates(J, 1.0, 0.0)) * preset.amplitude


def test_default_forward_pass_is_the_hard_lif_with_the_soft_gradient():
    preset = PRESETS["mnist"]
    layer = SoftLIF.from_preset("mnist")
    assert layer.hard_forward is True
    x = tf.constant(np.r_[np.linspace(-0.5, 1.5, 41), -0.02, -0.01][None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    J = 1.0 + x.numpy()[0]  # gain 1, bias 1
    np.testing.assert_allclose(y.numpy()[0], hard_lif(J, preset), rtol=1e-4, atol=1e-4)
    # the backward pass is the soft LIF's: not zero just below the threshold,
    # where the hard rate is flat
    grad = tape.gradient(y, x).numpy()[0]
    just_below = (J > 0.97) & (J < 1.0)
    assert just_below.any() and np.all(grad[just_below] > 0)


def test_soft_forward_pass_is_still_reachable():
    preset = PRESETS["mnist"]
    layer = SoftLIF.from_preset("mnist", hard_forward=False)
    x = tf.constant([[-0.01, 0.0, 0.01]], tf.float32)  # at the threshold
    soft = layer(x).numpy()[0]
    hard = hard_lif(1.0 + x.numpy()[0], preset)
    assert soft[0] > 0 and hard[0] == 0  # the soft curve fires below threshold
    assert np.all(soft > hard)
    # the setting is saved with the layer, whatever the default
    for value in (False, True):
        config = SoftLIF(hard_forward=value).get_config()
        assert config["hard_forward"] is value
        assert SoftLIF.from_config(config).hard_forward is value


def tutorial_model(filters=(32, 64)):
    """nengo-dl's "Keras to SNN" tutorial model, as a user writes it."""
    layers = tf.keras.layers
    x = inputs = tf.keras.Input((28, 28, 1))
    x = layers.Conv2D(filters[0], 3, activation="relu")(x)
    x = layers.Conv2D(filters[1], 3, strides=2, activation="relu")(x)
    outputs = layers.Dense(10)(layers.Flatten()(x))
    return tf.keras.Model(inputs, outputs)


def recipe(model, **changes):
    """The guide's recipe: relu swapped for the preset's SoftLIF, weights scaled."""
    template = SoftLIF.from_preset("mnist", noise="gaussian:10", **changes)
    model = nsl_keras.rewrite_model(model, swap_activations={"relu": template}).model
    nsl_keras.scale_initial_weights(model)
    return model


def mnist_sample(n=None):
    data = load_embedded_mnist()
    images = (data.train_images[:n] / 255.0).astype(np.float32)
    return images.reshape(-1, 28, 28, 1), data.train_labels[:n]


def test_freshly_initialised_neurons_are_in_their_working_range():
    tf.keras.utils.set_random_seed(0)
    model = recipe(tutorial_model())
    images, _ = mnist_sample(200)
    neurons = [layer for layer in model.layers if isinstance(layer, SoftLIF)]
    assert len(neurons) == 2
    probe = tf.keras.Model(model.input, [layer.output for layer in neurons])
    for layer, out in zip(neurons, probe(images, training=False), strict=True):
        rates = out.numpy() / layer.amplitude
        active = np.mean(rates > 0)
        # some neurons fire, not all (the hard LIF rate is 0 below threshold)
        assert 0.05 < active < 0.95, (layer.name, active)
        # those that fire do so at rates spiking neurons convey in 80 ms
        assert 5 < np.median(rates[rates > 0]) < 300, layer.name


def train_error(model, images, labels, epochs=2):
    model.compile(
        tf.keras.optimizers.Adam(1e-3),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images[:-500], labels[:-500], batch_size=100, epochs=epochs, verbose=0)
    predictions = np.argmax(model.predict(images[-500:], verbose=0), axis=1)
    return np.mean(predictions != labels[-500:])


@pytest.mark.slow
def test_the_recipe_learns_about_as_fast_as_relu():
    images, labels = mnist_sample()
    tf.keras.utils.set_random_seed(0)
    model = tutorial_model(filters=(8, 16))
    softlif = recipe(model)  # the same initial weights
    relu_error = train_error(model, images, labels)
    softlif_error = train_error(softlif, images, labels)
    assert relu_error < 0.2  # the budget teaches ReLU something
    # (at this budget the soft forward pass, or the hard one without
    # scale_initial_weights, ends 1-2 points behind ReLU)
    assert softlif_error < relu_error + 0.005, (softlif_error, relu_error)


def test_scale_initial_weights_scales_the_layers_after_softlif_layers():
    tf.keras.utils.set_random_seed(0)
    layers = tf.keras.layers
    x = inputs = tf.keras.Input((12, 12, 1))
    x = layers.Conv2D(4, 3)(x)
    x = SoftLIF.from_preset("mnist", name="lif1")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(4, 3)(x)
    x = SoftLIF.from_preset("mnist", name="lif2")(x)
    x = layers.Dropout(0.1)(layers.Flatten()(x))
    outputs = layers.Dense(3)(x)
    model = tf.keras.Model(inputs, outputs)
    before = {layer.name: layer.get_weights() for layer in model.layers}
    changes = nsl_keras.scale_initial_weights(model, hidden=0.5, readout=0.25, first=2)
    conv1, lif1, conv2, lif2, dense = (model.layers[i] for i in (1, 2, 4, 5, 8))
    assert changes == [
        "lif1: gain x 2",
        f"{conv2.name}: kernel x 0.5",
        f"{dense.name}: kernel x 0.25",
    ]
    # the first layer's neurons get the scale in their gain, its kernel stays
    gain = PRESETS["mnist"].gain
    assert (lif1.gain, lif2.gain) == (2 * gain, gain)
    for layer, scale in ((conv1, 1.0), (conv2, 0.5), (dense, 0.25)):
        kernel, bias = layer.get_weights()
        np.testing.assert_allclose(kernel, scale * before[layer.name][0], rtol=1e-6)
        np.testing.assert_array_equal(bias, before[layer.name][1])
    # the defaults: the first neurons' gain times 8, the read-out at zero
    nsl_keras.scale_initial_weights(model)
    assert lif1.gain == 16 * gain
    assert not np.any(dense.get_weights()[0])


def test_scaled_gains_are_folded_into_the_weights_by_from_keras():
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415

    rng = np.random.default_rng(0)
    tf.keras.utils.set_random_seed(0)
    model = recipe(tutorial_model(filters=(4, 4)))
    for layer in model.layers:  # active neurons, and a read-out that is not 0
        if isinstance(layer, SoftLIF):
            layer.bias.assign(rng.uniform(1.1, 1.5, layer.bias.shape))
    model.layers[-1].kernel.assign(rng.normal(0, 0.1, model.layers[-1].kernel.shape))
    gains = [layer.gain for layer in model.layers if isinstance(layer, SoftLIF)]
    assert gains == [8 * PRESETS["mnist"].gain, PRESETS["mnist"].gain]
    net = nsl_keras.from_keras(model)
    assert net.lif_params.gain == PRESETS["mnist"].gain  # the last neuron layer's
    images, _ = mnist_sample(5)
    expected = model(images.reshape(5, 28, 28, 1)).numpy()
    result = evaluate(net, images.reshape(5, -1), np.zeros(5, int), backend="nengo")
    np.testing.assert_allclose(
        result.outputs, expected, atol=1e-4 * np.abs(expected).max()
    )


def test_a_gain_after_a_merge_must_be_the_networks():
    layers = tf.keras.layers
    x = inputs = tf.keras.Input((6, 6, 1))
    x = SoftLIF.from_preset("mnist")(layers.Conv2D(2, 3, padding="same")(x))
    y = layers.Conv2D(2, 3, padding="same")(x)
    x = SoftLIF.from_preset("mnist", gain=2.0, name="merged")(layers.Add()([x, y]))
    x = SoftLIF.from_preset("mnist")(layers.Conv2D(2, 3)(x))
    model = tf.keras.Model(inputs, layers.Dense(3)(layers.Flatten()(x)))
    with pytest.raises(TypeError, match="'merged'.*its gain \\(2\\) differs"):
        nsl_keras.from_keras(model)


def test_first_layer_starts_its_neurons_over_their_working_range():
    # data of the usual scale, mean image subtracted (as the CIFAR-10 task
    # does): with Keras' initialisation the first neurons all start within
    # about 0.1 of their threshold; scaled, they spread over it
    images, _ = mnist_sample(200)
    images = images - images.mean(axis=0)

    def first_currents(**scales):
        tf.keras.utils.set_random_seed(0)
        template = SoftLIF.from_preset("cifar10")
        model = nsl_keras.rewrite_model(
            tutorial_model(filters=(8, 8)), swap_activations={"relu": template}
        ).model
        nsl_keras.scale_initial_weights(model, **scales)
        conv, neurons = model.layers[1:3]
        return neurons.gain * conv(images).numpy().ravel()

    unscaled, scaled = first_currents(first=1), first_currents()
    assert np.std(unscaled) < 0.2
    assert 0.3 < np.std(scaled) < 2, np.std(scaled)
    np.testing.assert_allclose(scaled, 8 * unscaled, rtol=1e-4, atol=1e-5)


def test_from_preset_takes_overrides_of_the_preset_constants():
    layer = SoftLIF.from_preset("cifar10", amplitude=0.01, bias=0.5, name="lif")
    assert (layer.amplitude, layer.bias_init, layer.name) == (0.01, 0.5, "lif")
    assert layer.tau_rc == PRESETS["cifar10"].tau_rc
    assert layer.gain == PRESETS["cifar10"].gain


def test_scale_initial_weights_refuses_what_it_cannot_do():
    model = tutorial_model(filters=(2, 2))
    with pytest.raises(ValueError, match="has no SoftLIF layer; swap its activations"):
        nsl_keras.scale_initial_weights(model)
    with pytest.raises(ValueError, match="hidden must be a finite number >= 0"):
        nsl_keras.scale_initial_weights(recipe(model), hidden=-1)
    with pytest.raises(ValueError, match="readout must be a finite number >= 0"):
        nsl_keras.scale_initial_weights(recipe(model), readout=float("nan"))
    with pytest.raises(ValueError, match="first must be a finite number > 0"):
        nsl_keras.scale_initial_weights(recipe(model), first=float("inf"))
    with pytest.raises(ValueError, match="first must be .* > 0 .*silences"):
        nsl_keras.scale_initial_weights(recipe(model), first=0)


def test_scale_initial_weights_refuses_a_shared_softlif_layer():
    # one SoftLIF layer after two layers that see the data would get the
    # first scale once per use (8 x 8), and every use would change
    layers = tf.keras.layers
    inputs = tf.keras.Input((6, 6, 1))
    shared = SoftLIF.from_preset("mnist", name="shared_lif")
    a = shared(layers.Conv2D(2, 3)(inputs))
    b = shared(layers.Conv2D(2, 3)(inputs))
    outputs = layers.Dense(3)(layers.Flatten()(layers.Add()([a, b])))
    model = tf.keras.Model(inputs, outputs)
    with pytest.raises(TypeError, match="'shared_lif'.*used more than once"):
        nsl_keras.scale_initial_weights(model)
    assert shared.gain == PRESETS["mnist"].gain  # nothing changed
