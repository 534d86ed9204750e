"""The Keras side: layers, a package network as a Keras model, the Keras engine."""

import numpy as np
import pytest

from nengo_softlif import PRESETS, GaussianNoise
from nengo_softlif.anneal import SigmaAnnealing
from nengo_softlif.checkpoint import (
    CheckpointError,
    get_params,
    load_checkpoint,
    load_training_state,
)
from nengo_softlif.layers import AvgPool, Conv, Dense, LocallyConnected, Output
from nengo_softlif.networks import Architecture, build_network
from nengo_softlif.neurons import RectifiedLinear
from nengo_softlif.train import ArrayData, TrainConfig, train

tf = pytest.importorskip("tensorflow")
nsl_keras = pytest.importorskip("nengo_softlif.keras")

#: Every layer kind with a Keras adapter, dropout included.
ARCH = Architecture(
    "keras-tiny",
    (8, 8, 2),
    (
        Conv(4, 3, padding=1),
        AvgPool(3, 2),
        LocallyConnected(3, 3, padding=1),
        Dense(12, dropout=0.25),
        Output(3),
    ),
)


def _net(neuron="softlif", noise=GaussianNoise(10), seed=0):
    preset = PRESETS["cifar10"]
    if neuron == "relu":
        neuron_type = RectifiedLinear(amplitude=0.063, noise=noise)
    else:
        neuron_type = preset.soft_lif(sigma=0.02, noise=noise)
    net = build_network(ARCH, neuron_type, preset, seed=seed)
    # a non-zero read-out, so that outputs depend on every layer
    params = get_params(net)
    rng = np.random.default_rng(seed + 1)
    params["output.weights"] = rng.normal(0, 0.5, params["output.weights"].shape)
    params["output.bias"] = rng.normal(0, 0.5, params["output.bias"].shape)
    from nengo_softlif.checkpoint import set_params  # noqa: PLC0415

    set_params(net, params)
    return net


def _data(rng, n=200):
    """Three classes: which third of the image rows is brighter."""
    labels = rng.integers(0, 3, n)
    images = rng.uniform(-0.5, 0.5, (n, 8, 8, 2))
    for k in range(3):
        images[labels == k, 3 * k : 3 * k + 2] += 0.8
    return images.reshape(n, -1).astype(np.float32), labels


def _nengo_dl_outputs(net, images):
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    with nengo_dl.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        return sim.predict({net.inp: images[:, None]})[net.out_probe][:, 0]


@pytest.mark.parametrize("neuron", ["softlif", "relu"])
def test_keras_model_computes_what_nengo_dl_computes(neuron, rng):
    net = _net(neuron)
    model = nsl_keras.keras_model(net)
    images, _ = _data(rng, 40)
    keras_out = model(images, training=False).numpy()
    dl_out = _nengo_dl_outputs(net, images)
    scale = np.abs(dl_out).max()
    assert scale > 0.1
    assert np.allclose(keras_out, dl_out, atol=1e-5 * scale, rtol=1e-5)
    # and the parameters read back are the network's
    back = nsl_keras.keras_params(model, net)
    for key, value in get_params(net).items():
        assert np.allclose(back[key], value, atol=1e-7), key


def test_keras_model_of_a_trained_network_is_the_trained_network(rng):
    net = _net()
    images, labels = _data(rng)
    train(
        net,
        ArrayData(images, labels),
        TrainConfig(epochs=2, minibatch_size=50, learning_rate=3e-3, engine="keras"),
        verbose=0,
    )
    keras_out = nsl_keras.keras_model(net)(images[:30], training=False).numpy()
    dl_out = _nengo_dl_outputs(net, images[:30])
    assert np.allclose(keras_out, dl_out, atol=1e-4 * np.abs(dl_out).max())


def test_noise_acts_only_in_training_and_is_straight_through():
    layer = nsl_keras.SoftLIF.from_preset("cifar10", noise="gaussian:10", seed=3)
    x = tf.constant(np.linspace(-1, 3, 200, dtype=np.float32)[None, :])
    clean = layer(x, training=False)
    assert np.array_equal(clean.numpy(), layer(x).numpy())
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        noisy = layer(x, training=True)
        plain = layer(x, training=False)
    assert not np.allclose(noisy.numpy(), clean.numpy())
    assert np.allclose(tape.gradient(noisy, x).numpy(), tape.gradient(plain, x).numpy())
    # below the threshold (J = 0.825 x + 1 <= 1) there is no noise
    below = x.numpy()[0] <= 0
    assert np.array_equal(noisy.numpy()[0, below], clean.numpy()[0, below])


def test_noise_is_reproducible_from_the_layer_weights():
    layer = nsl_keras.SoftLIF(noise="gaussian:10", bias=1.5, seed=1)
    x = tf.ones((4, 10))
    layer(x)  # build
    state = [v.numpy() for v in layer.non_trainable_variables]
    first = layer(x, training=True).numpy()
    second = layer(x, training=True).numpy()
    assert not np.array_equal(first, second)  # new noise every step
    for var, value in zip(layer.non_trainable_variables, state, strict=True):
        var.assign(value)
    assert np.array_equal(layer(x, training=True).numpy(), first)


@pytest.mark.parametrize("fmt", ["keras", "h5", "tf"])
def test_keras_model_saves_and_loads(fmt, tmp_path, rng):
    model = nsl_keras.keras_model(_net())
    images, _ = _data(rng, 10)
    path = str(tmp_path / ("model" if fmt == "tf" else f"model.{fmt}"))
    model.save(path, save_format=fmt)
    loaded = tf.keras.models.load_model(path)
    assert np.allclose(loaded(images).numpy(), model(images).numpy(), atol=1e-6)
    layer = loaded.get_layer("conv1_neurons")
    assert isinstance(layer, nsl_keras.SoftLIF)
    assert layer.get_config()["noise"] == "gaussian:10"


def test_bad_layer_arguments_are_refused():
    with pytest.raises(ValueError, match="sigma must be finite"):
        nsl_keras.SoftLIF(sigma=float("nan"))
    with pytest.raises(ValueError, match="tau_rc must be finite"):
        nsl_keras.SoftLIF(tau_rc=float("inf"))
    with pytest.raises(ValueError, match="Unknown neuron preset"):
        nsl_keras.SoftLIF.from_preset("imagenet")


class _Interrupt(Exception):
    pass


class _StopAt:
    """Training data that fails when epoch ``stop`` is asked for (a kill)."""

    def __init__(self, data, stop):
        self.data, self.stop = data, stop

    def __call__(self, epoch, rng):
        if epoch == self.stop:
            raise _Interrupt
        return self.data(epoch, rng)


def _augmenting_data(rng):
    images, labels = _data(rng)

    def augment(x, epoch_rng):  # depends on the epoch's generator
        return x + epoch_rng.normal(0, 0.05, x.shape)

    return ArrayData(images, labels, augment=augment)


@pytest.mark.parametrize("anneal", [False, True])
def test_keras_engine_resumes_exactly(anneal, tmp_path, rng):
    """Killed after epoch 2 and resumed: the same weights as a run that never stopped."""
    data = _augmenting_data(rng)
    config = TrainConfig(
        epochs=4,
        minibatch_size=50,
        learning_rate=3e-3,
        warmup_epochs=1,
        weight_decay=1e-4,
        engine="keras",
    )

    def callbacks():
        return [SigmaAnnealing(epochs=4, end=0.005)] if anneal else []

    whole = _net()
    train(
        whole,
        data,
        config,
        str(tmp_path / "whole.npz"),
        verbose=0,
        callbacks=callbacks(),
    )
    path = str(tmp_path / "resumed.npz")
    with pytest.raises(_Interrupt):
        train(_net(), _StopAt(data, 2), config, path, verbose=0, callbacks=callbacks())
    assert load_checkpoint(path)[1]["state"]["epoch"] == 2
    resumed = _net()
    result = train(resumed, data, config, path, verbose=0, callbacks=callbacks())
    assert result.epochs_run == 2
    a, b = get_params(whole), get_params(resumed)
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    state = load_training_state(path)
    assert int(state["optimizer"][0]) == 4 * 4  # Adam's step count went on
    if anneal:
        assert load_checkpoint(path)[1]["neuron_type"]["sigma"] == pytest.approx(0.005)


def test_chunks_of_epochs_resume_to_the_same_weights(tmp_path, rng):
    data = _augmenting_data(rng)
    config = TrainConfig(epochs=3, minibatch_size=50, engine="keras")
    whole = _net()
    train(whole, data, config, verbose=0)
    path = str(tmp_path / "ck.npz")
    for _ in range(3):
        net = _net()
        result = train(net, data, config, path, verbose=0, max_epochs=1)
        assert result.epochs_run == 1
    for key, value in get_params(whole).items():
        assert np.array_equal(value, get_params(net)[key]), key


def test_nengo_dl_engine_keeps_the_optimizer_state(tmp_path, rng):
    data = _augmenting_data(rng)
    config = TrainConfig(epochs=2, minibatch_size=50)
    path = str(tmp_path / "ck.npz")
    train(_net(), data, config, path, verbose=0, max_epochs=1)
    first = load_training_state(path)["optimizer"]
    train(_net(), data, config, path, verbose=0)
    second = load_training_state(path)["optimizer"]
    assert int(first[0]) == 4 and int(second[0]) == 8  # not restarted at 0
    assert len(first) == len(second) > 1


@pytest.mark.parametrize(
    "change, words",
    [
        ({"learning_rate": 1e-2}, "learning_rate: 0.003 in the checkpoint, 0.01 now"),
        ({"minibatch_size": 25}, "minibatch_size: 50 in the checkpoint, 25 now"),
        ({"engine": "nengo-dl"}, "engine: 'keras' in the checkpoint, 'nengo-dl' now"),
    ],
)
def test_resuming_with_other_settings_is_refused(change, words, tmp_path, rng):
    data = _augmenting_data(rng)
    base = {"epochs": 2, "minibatch_size": 50, "learning_rate": 3e-3, "engine": "keras"}
    path = str(tmp_path / "ck.npz")
    train(_net(), data, TrainConfig(**base), path, verbose=0, max_epochs=1)
    before = open(path, "rb").read()
    with pytest.raises(CheckpointError, match="other settings") as info:
        train(_net(), data, TrainConfig(**{**base, **change}), path, verbose=0)
    assert words in str(info.value)
    assert open(path, "rb").read() == before  # the checkpoint is untouched


def test_resuming_with_other_noise_or_annealing_is_refused(tmp_path, rng):
    data = _augmenting_data(rng)
    config = TrainConfig(epochs=2, minibatch_size=50, engine="keras")
    path = str(tmp_path / "ck.npz")
    train(_net(), data, config, path, verbose=0, max_epochs=1)
    with pytest.raises(CheckpointError, match="noise: 'gaussian:10' in the checkpoint"):
        train(_net(noise=GaussianNoise(20)), data, config, path, verbose=0)
    with pytest.raises(CheckpointError, match="callbacks"):
        train(
            _net(),
            data,
            config,
            path,
            verbose=0,
            callbacks=[SigmaAnnealing(epochs=2, end=0.002)],
        )
    # training longer is allowed
    result = train(
        _net(),
        data,
        TrainConfig(epochs=3, minibatch_size=50, engine="keras"),
        path,
        verbose=0,
    )
    assert result.epochs_run == 2


def test_keras_engine_is_at_least_as_good_as_nengo_dl_on_a_toy_task(rng):
    data = _augmenting_data(rng)
    images, labels = _data(np.random.default_rng(5), 100)
    errors = {}
    for engine in ("keras", "nengo-dl"):
        net = _net()
        train(
            net,
            data,
            TrainConfig(epochs=6, minibatch_size=20, learning_rate=3e-3, engine=engine),
            verbose=0,
        )
        out = _nengo_dl_outputs(net, images)
        errors[engine] = np.mean(np.argmax(out, 1) != labels)
    assert errors["keras"] < 0.5 and errors["nengo-dl"] < 0.5
    assert abs(errors["keras"] - errors["nengo-dl"]) < 0.15
