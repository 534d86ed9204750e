"""The Keras side: layers, a package network as a Keras model, the Keras engine."""

import numpy as np
import pytest
from training_helpers import assert_chunks_resume_exactly, three_class_images

from nengo_softlif import PRESETS, GaussianNoise
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    get_params,
    load_checkpoint,
    load_training_state,
    set_params,
)
from nengo_softlif.network.convert import to_spiking
from nengo_softlif.network.layers import AvgPool, Conv, Dense, LocallyConnected, Output
from nengo_softlif.neurons.softlif import RectifiedLinear
from nengo_softlif.training.anneal import SigmaAnnealing
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

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


def _net(neuron="softlif", noise=GaussianNoise(10), seed=0, architecture=ARCH):
    preset = PRESETS["cifar10"]
    if neuron == "relu":
        neuron_type = RectifiedLinear(amplitude=0.063, noise=noise)
    else:
        neuron_type = preset.soft_lif(sigma=0.02, noise=noise)
    net = build_network(architecture, neuron_type, preset, seed=seed)
    # a non-zero read-out, so that outputs depend on every layer
    params = get_params(net)
    rng = np.random.default_rng(seed + 1)
    params["output.weights"] = rng.normal(0, 0.5, params["output.weights"].shape)
    params["output.bias"] = rng.normal(0, 0.5, params["output.bias"].shape)
    set_params(net, params)
    return net


def _data(rng, n=200):
    return three_class_images(rng, n)


def _nengo_dl_outputs(net, images):
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    with nengo_dl.Simulator(net, minibatch_size=len(images), progress_bar=False) as sim:
        return sim.predict({net.inp: images[:, None]})[net.out_probe][:, 0]


@pytest.mark.parametrize(
    "neuron,edges", [("softlif", "clipped"), ("relu", "clipped"), ("softlif", "padded")]
)
def test_keras_model_computes_what_nengo_dl_computes(neuron, edges, rng):
    net = _net(neuron, architecture=ARCH.with_pool_edges(edges))
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


def test_default_sigma_follows_the_forward_pass():
    from nengo_softlif.keras.layers import HARD_FORWARD_SIGMA, SOFT_FORWARD_SIGMA

    assert nsl_keras.SoftLIF().sigma == HARD_FORWARD_SIGMA == 0.1
    assert nsl_keras.SoftLIF(hard_forward=False).sigma == SOFT_FORWARD_SIGMA == 0.02
    assert nsl_keras.SoftLIF(sigma=0.05).sigma == 0.05
    preset = nsl_keras.SoftLIF.from_preset("mnist", hard_forward=False)
    assert preset.sigma == SOFT_FORWARD_SIGMA
    assert nsl_keras.SoftLIF.from_preset("cifar10").sigma == HARD_FORWARD_SIGMA
    # a saved layer keeps its sigma, whatever the default
    config = nsl_keras.SoftLIF(sigma=0.02).get_config()
    assert nsl_keras.SoftLIF.from_config(config).sigma == 0.02
    assert nsl_keras.paper_model("mnist").get_layer("conv1_neurons").sigma == 0.02


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
    assert_chunks_resume_exactly(_net, data, config, tmp_path / "ck.npz")


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


def _user_model(rng, dropout=0.3):
    """A Keras user's model with every supported layer (random weights)."""
    from nengo_softlif.keras import SoftLIF  # noqa: PLC0415

    inp = tf.keras.Input((8, 8, 2))
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = SoftLIF.from_preset("cifar10", noise="gaussian:10")(x)
    x = tf.keras.layers.AveragePooling2D(3, 2, padding="same")(x)
    x = tf.keras.layers.ZeroPadding2D(1)(x)
    x = tf.keras.layers.LocallyConnected2D(3, 3, implementation=1)(x)
    x = SoftLIF.from_preset("cifar10", noise="gaussian:10")(x)
    x = tf.keras.layers.LocallyConnected2D(3, 1, implementation=2)(x)
    x = SoftLIF.from_preset("cifar10", noise="gaussian:10")(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(6)(x)
    x = SoftLIF.from_preset("cifar10", noise="gaussian:10")(x)
    x = tf.keras.layers.Dropout(dropout)(x)
    out = tf.keras.layers.Dense(3)(x)
    model = tf.keras.Model(inp, out)
    for layer in model.layers:
        for w in layer.trainable_weights:
            scale = 0.3 if "bias" in w.name else 0.6
            w.assign(
                rng.normal(0, scale, w.shape) + (1.0 if "neurons" in w.name else 0)
            )
    return model, inp, out


def test_converter_converts_every_supported_layer_natively(rng):
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415
    from nengo_softlif.keras.converters import check_convertible  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    model, inp, out = _user_model(rng)
    assert check_convertible(model) == []
    converter = nengo_dl.Converter(model, allow_fallback=False)
    assert not any(type(n).__name__ == "TensorNode" for n in converter.net.all_nodes)
    neuron_types = {type(e.neuron_type) for e in converter.net.all_ensembles}
    from nengo_softlif import SoftLIFRate  # noqa: PLC0415

    assert neuron_types == {SoftLIFRate}
    assert all(
        e.neuron_type.noise == GaussianNoise(10) for e in converter.net.all_ensembles
    )
    x = rng.uniform(-1, 1, (12, 8, 8, 2)).astype(np.float32)
    expected = model(x).numpy()
    with nengo_dl.Simulator(
        converter.net, minibatch_size=12, progress_bar=False
    ) as sim:
        got = sim.predict({converter.inputs[inp]: x.reshape(12, 1, -1)})
    got = got[converter.outputs[out]][:, 0]
    assert np.abs(expected).max() > 0.1
    assert np.allclose(got, expected, atol=1e-5 * np.abs(expected).max())


def test_unconvertible_layers_are_named_with_what_to_use():
    from nengo_softlif.keras.converters import check_convertible  # noqa: PLC0415

    inp = tf.keras.Input((8, 8, 2))
    x = tf.keras.layers.Conv2D(4, 3)(inp)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    x = tf.keras.layers.Lambda(lambda t: t * 2, name="custom")(x)
    model = tf.keras.Model(inp, x)
    problems = check_convertible(model)
    assert any(
        p.startswith("max_pooling2d (MaxPooling2D)") and "AveragePooling2D" in p
        for p in problems
    )
    assert any("custom (Lambda): no converter" in p for p in problems)
    assert any(
        "(BatchNormalization)" in p
        and "rewrite_model(model) first, which folds it into the layer before" in p
        for p in problems
    )


def test_from_keras_gives_the_same_network_and_outputs(rng):
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415
    from nengo_softlif.network.convert import to_hard_rate  # noqa: PLC0415

    model, _, _ = _user_model(rng)
    for layer in model.layers:  # active neurons: rates of tens of Hz
        if isinstance(layer, nsl_keras.SoftLIF):
            layer.bias.assign(rng.uniform(1.3, 2.0, layer.bias.shape))
    net = nsl_keras.from_keras(model)
    images = rng.uniform(-1, 1, (10, 8 * 8 * 2)).astype(np.float32)
    expected = model(images.reshape(10, 8, 8, 2)).numpy()
    result = evaluate(net, images, np.zeros(10, int), backend="nengo")
    assert np.allclose(result.outputs, expected, atol=1e-5 * np.abs(expected).max())
    # and back: the package's Keras model of it computes the same
    again = nsl_keras.keras_model(net)(images).numpy()
    assert np.allclose(again, expected, atol=1e-5 * np.abs(expected).max())
    # it runs as spikes on the fast backend; over a long window with a smoothing
    # synapse the spiking mean is the hard-rate network's output (as in
    # test_networks.test_spiking_mean_matches_hard_rate_network)
    import nengo  # noqa: PLC0415

    from nengo_softlif.evaluation.runner import Protocol  # noqa: PLC0415

    hard = evaluate(to_hard_rate(net), images[:3], np.zeros(3, int), backend="nengo")
    spikes = evaluate(
        to_spiking(net, synapse=nengo.Alpha(0.05)),
        images[:3],
        np.zeros(3, int),
        Protocol(presentation_time=5.0, t_start=1.0, t_end=5.0, reset=True),
        backend="fast",
    )
    rel = np.linalg.norm(spikes.outputs - hard.outputs) / np.linalg.norm(hard.outputs)
    assert rel < 0.05, rel


def test_from_keras_refuses_layers_without_an_equivalent():
    inp = tf.keras.Input((8, 8, 2))
    x = tf.keras.layers.Conv2D(4, 3)(inp)
    x = tf.keras.layers.MaxPooling2D(2)(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2)(tf.keras.layers.Flatten()(x)))
    with pytest.raises(
        TypeError, match="conv2d.*followed by a nengo_softlif.keras.SoftLIF"
    ):
        nsl_keras.from_keras(model)


def test_paper_model_trained_in_keras_converts_to_the_same_errors():
    """The MNIST network trained with model.fit: the same static error in nengo-dl."""
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415
    from nengo_softlif.data import load_embedded_mnist  # noqa: PLC0415
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415

    data = load_embedded_mnist()
    train_x = (data.train_images / 255.0).reshape(-1, 28 * 28).astype(np.float32)
    test_x = (data.test_images[:300] / 255.0).reshape(300, -1).astype(np.float32)
    model = nsl_keras.paper_model("mnist", noise="gaussian:10")
    model.compile(
        tf.keras.optimizers.Adam(1e-3),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(train_x, data.train_labels, epochs=2, batch_size=50, verbose=0)
    keras_error = np.mean(np.argmax(model(test_x), 1) != data.test_labels[:300])
    assert keras_error < 0.3  # it learned
    net = nsl_keras.from_keras(model)
    assert net.architecture.layers[4].dropout == 0.5  # the MNIST fc layer's
    result = evaluate(net, test_x, data.test_labels[:300], backend="nengo-dl")
    assert result.error == pytest.approx(keras_error)
    nengo_dl = import_nengo_dl()
    converter = nengo_dl.Converter(model, allow_fallback=False)
    with nengo_dl.Simulator(
        converter.net, minibatch_size=100, progress_bar=False
    ) as sim:
        out = sim.predict({converter.inputs[model.inputs[0]]: test_x[:, None]})
    predictions = np.argmax(out[converter.outputs[model.outputs[0]]][:, 0], 1)
    assert np.mean(predictions != data.test_labels[:300]) == pytest.approx(keras_error)


def test_keras_sigma_annealing_callback_reaches_the_end_sigma(rng):
    from nengo_softlif.keras import SigmaAnnealing, SoftLIF  # noqa: PLC0415

    seen = []
    inp = tf.keras.Input((4,))
    layer = SoftLIF(sigma=0.02, bias=1.0, name="neurons")
    hidden = layer(tf.keras.layers.Dense(4, use_bias=False)(inp))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2)(hidden))
    model.compile("adam", "mse")
    probe = tf.keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda b, logs: seen.append(
            layer.sigma * float(layer.sigma_scale.numpy())
        )
    )
    model.fit(
        rng.normal(size=(40, 4)),
        rng.normal(size=(40, 2)),
        batch_size=10,
        epochs=2,
        verbose=0,
        callbacks=[SigmaAnnealing(end=0.004), probe],
    )
    assert np.allclose(seen, 0.02 * 0.2 ** (np.arange(8) / 7), rtol=1e-5)
    assert nsl_keras.from_keras(model).neuron_type.sigma == pytest.approx(0.004)


def test_a_keras_model_goes_through_checkpoints_sharding_and_loihi(rng, tmp_path):
    """from_keras gives the package's network: everything else takes it."""
    from nengo_softlif.evaluation.distributed import evaluate_parallel  # noqa: PLC0415
    from nengo_softlif.evaluation.runner import Protocol, evaluate  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        load_network,
        save_checkpoint,
    )

    model, _, _ = _user_model(rng)
    net = nsl_keras.from_keras(model)
    path = tmp_path / "keras.npz"
    save_checkpoint(path, net, epoch=1)
    loaded, _ = load_network(path)
    for key, value in get_params(net).items():
        assert np.array_equal(value, get_params(loaded)[key]), key
    images = rng.uniform(0, 1, (4, 8 * 8 * 2)).astype(np.float32)
    labels = np.arange(4) % 3
    protocol = Protocol(presentation_time=0.1, t_start=0.05, t_end=0.1)
    spiking = to_spiking(loaded)
    one = evaluate(spiking, images, labels, protocol, backend="fast")
    two = evaluate_parallel(
        spiking, images, labels, protocol, workers=2, backend="fast"
    )
    assert np.array_equal(one.outputs, two.outputs)
    pytest.importorskip("nengo_loihi")
    chip = evaluate(spiking, images, labels, protocol, backend="loihi")
    assert (
        chip.outputs.shape == one.outputs.shape and chip.synaptic_events_per_image > 0
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"ema_decay": 0.9},
        {"cutout": 3},
        {"optimizer": "sgd", "nesterov": True, "learning_rate": 0.05},
    ],
)
def test_training_options_resume_exactly(changes, tmp_path, rng):
    """A moving average, cutout and Nesterov momentum: chunks = one whole run."""
    data = _augmenting_data(rng)
    config = TrainConfig(epochs=3, minibatch_size=50, engine="keras", **changes)
    assert_chunks_resume_exactly(_net, data, config, tmp_path / "ck.npz")


def test_moving_average_is_the_network_and_leaves_training_alone(tmp_path, rng):
    data = _augmenting_data(rng)
    base = {"epochs": 2, "minibatch_size": 50, "engine": "keras"}
    plain, averaged = _net(), _net()
    train(plain, data, TrainConfig(**base), str(tmp_path / "plain.npz"), verbose=0)
    train(
        averaged,
        data,
        TrainConfig(ema_decay=0.9, **base),
        str(tmp_path / "ema.npz"),
        verbose=0,
    )
    plain_state = load_training_state(str(tmp_path / "plain.npz"))
    ema_state = load_training_state(str(tmp_path / "ema.npz"))
    # the raw training trajectory is the same: same optimizer moments ...
    for a, b in zip(plain_state["optimizer"], ema_state["optimizer"], strict=True):
        assert np.array_equal(a, b)
    assert "raw_params" in ema_state and "raw_params" not in plain_state
    # ... but the network holds the average, which differs from the raw weights
    params, plain_params = get_params(averaged), get_params(plain)
    assert not np.allclose(params["output.weights"], plain_params["output.weights"])
    raw = {tuple(np.shape(v)): v for v in ema_state["raw_params"]}
    shape = plain_params["output.weights"].shape
    stored = raw.get(shape, raw.get(shape[::-1]))
    assert stored is not None
    assert np.allclose(
        np.abs(stored).sum(), np.abs(plain_params["output.weights"]).sum(), rtol=1e-6
    )


_SGD = {"optimizer": "sgd", "learning_rate": 1e-3, "momentum": 0.9}
#: one plain SGD step on 50 images (the ``n=50`` data of the tests that use it)
_ONE_SGD_STEP = {
    "epochs": 1,
    "minibatch_size": 50,
    "engine": "keras",
    "optimizer": "sgd",
    "momentum": 0.0,
    "learning_rate": 1e-2,
    "lr_schedule": "constant",
}


@pytest.mark.parametrize("optimizer", [{}, _SGD], ids=["adam", "sgd"])
def test_first_layer_scale_trains_as_if_the_images_were_larger(rng, optimizer):
    """Scaling the first layer's initial weights by s, and training it in the
    units of images s times larger, is training on those images, with s folded
    into its weights (with Adam and with SGD)."""
    from nengo_softlif.training.loop import input_layers  # noqa: PLC0415

    images, labels = _data(rng)
    base = {"epochs": 2, "minibatch_size": 50, "engine": "keras", **optimizer}
    scaled, larger = _net(noise=None), _net(noise=None)
    first = input_layers(scaled)
    assert first == ["conv1"]
    train(
        scaled,
        ArrayData(images, labels),
        TrainConfig(first_layer_scale=4.0, **base),
        verbose=0,
    )
    train(larger, ArrayData(4 * images, labels), TrainConfig(**base), verbose=0)
    initial = get_params(_net(noise=None))
    a, b = get_params(scaled), get_params(larger)
    for key, value in b.items():
        factor = 4.0 if key.split(".")[0] in first and key.endswith("weights") else 1
        assert not np.allclose(value, initial[key]) or "pool" in key, key  # trained
        np.testing.assert_allclose(a[key], factor * value, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("optimizer", [{}, _SGD], ids=["adam", "sgd"])
def test_input_scale_trains_from_the_same_network_as_if_the_images_were_larger(
    rng, optimizer
):
    """input_scale=s from a network is training on images s times larger from
    that network with its first weights divided by s, L2 penalty included."""
    images, labels = _data(rng)
    l2 = {"conv1": 0.01, "output": 0.01}
    base = {"epochs": 2, "minibatch_size": 50, "engine": "keras", "l2": l2}
    scaled, larger = _net(noise=None), _net(noise=None)
    params = get_params(larger)
    params["conv1.weights"] = params["conv1.weights"] / 4.0
    set_params(larger, params)
    config = TrainConfig(input_scale=4.0, **base, **optimizer)
    train(scaled, ArrayData(images, labels), config, verbose=0)
    config = TrainConfig(**base, **optimizer)
    train(larger, ArrayData(4 * images, labels), config, verbose=0)
    initial = get_params(_net(noise=None))
    a, b = get_params(scaled), get_params(larger)
    for key, value in b.items():
        factor = 4.0 if key == "conv1.weights" else 1.0
        assert not np.allclose(a[key], initial[key]) or "pool" in key, key
        np.testing.assert_allclose(a[key], factor * value, rtol=1e-3, atol=1e-5)


def test_l2_adds_its_penalty_to_the_named_kernels_gradient(rng):
    """One plain SGD step with l2 is the step without it, minus lr * c * w on the
    kernels of the named layers only (not on biases, not on other layers)."""
    images, labels = _data(rng, n=50)
    base = _ONE_SGD_STEP
    penalised, plain = _net(noise=None), _net(noise=None)
    start = get_params(plain)
    config = TrainConfig(l2={"conv1": 0.5, "output": 2.0}, **base)
    train(penalised, ArrayData(images, labels), config, verbose=0)
    train(plain, ArrayData(images, labels), TrainConfig(**base), verbose=0)
    a, b = get_params(penalised), get_params(plain)
    for key in start:
        c = {"conv1.weights": 0.5, "output.weights": 2.0}.get(key, 0.0)
        np.testing.assert_allclose(
            a[key], b[key] - 1e-2 * c * start[key], rtol=1e-4, atol=1e-6, err_msg=key
        )
    assert not np.allclose(a["output.weights"], b["output.weights"])


def test_l2_of_a_layer_the_network_lacks_is_refused(rng):
    images, labels = _data(rng, n=50)
    config = TrainConfig(
        epochs=1, minibatch_size=50, engine="keras", l2={"local9": 0.01}
    )
    with pytest.raises(ValueError, match="local9.*weight layers are.*conv1"):
        train(_net(), ArrayData(images, labels), config, verbose=0)


def test_papers_schedule_drops_the_rate_for_the_last_20_of_520_epochs():
    config = TrainConfig(epochs=520, learning_rate=1.0, lr_schedule="papers")
    rates = [config.learning_rate_at(e) for e in (0, 499.9, 500, 509.9, 510, 519)]
    np.testing.assert_allclose(rates, [1, 1, 0.1, 0.1, 0.01, 0.01])


@pytest.mark.parametrize("normalize", [True, False])
def test_normalize_gradients_gives_every_parameter_array_the_same_step(rng, normalize):
    """With plain SGD, one step changes every trained array by a root mean square
    of exactly the learning rate; without the option the steps differ by layer."""
    images, labels = _data(rng, n=50)
    net = _net(noise=None)
    before = get_params(net)
    config = TrainConfig(
        epochs=1,
        minibatch_size=50,
        engine="keras",
        optimizer="sgd",
        momentum=0.0,
        learning_rate=1e-3,
        lr_schedule="constant",
        normalize_gradients=normalize,
    )
    train(net, ArrayData(images, labels), config, verbose=0)
    after = get_params(net)
    steps = {
        key: np.sqrt(np.mean((after[key] - before[key]) ** 2))
        for key in before
        if "pool" not in key
    }
    kernels = [key for key in steps if key.endswith(".weights")]
    assert len(kernels) == 4 and all(steps[key] > 0 for key in kernels), steps
    if normalize:
        # the Keras kernel of a padded locally connected layer also holds the
        # taps on the padding (no gradient, not in the network's weights)
        padded = steps.pop("local1.weights")
        assert 1e-3 < padded < 1.5e-3, padded
        np.testing.assert_allclose(list(steps.values()), 1e-3, rtol=1e-3)
    else:
        assert max(steps.values()) > 5 * min(steps.values()), steps


def test_weight_levels_take_the_gradient_at_the_rounded_weights(rng):
    """A step with weight_levels is the step of the network whose kernels into
    neurons are rounded, applied to the unrounded kernels."""
    images, labels = _data(rng, n=50)
    config = _ONE_SGD_STEP
    levels, neurons = 3, ("conv1.weights", "local1.weights", "fc1.weights")
    quantised, rounded = _net(noise=None), _net(noise=None)
    start = get_params(quantised)
    params = dict(start)
    for key in neurons:
        step = np.abs(start[key]).max() / levels
        params[key] = np.round(start[key] / step) * step
    set_params(rounded, params)
    train(
        quantised,
        ArrayData(images, labels),
        TrainConfig(weight_levels=levels, **config),
        verbose=0,
    )
    train(rounded, ArrayData(images, labels), TrainConfig(**config), verbose=0)
    a, b = get_params(quantised), get_params(rounded)
    for key in start:
        np.testing.assert_allclose(
            a[key] - start[key], b[key] - params[key], atol=1e-6, err_msg=key
        )
    for key in neurons:
        assert not np.allclose(a[key], b[key]), key  # the raw weights are kept


@pytest.mark.parametrize(
    "option, value",
    [
        ("first_layer_scale", 2.0),
        ("input_scale", 255.0),
        ("normalize_gradients", True),
        ("weight_levels", 127),
        ("l2", {"output": 0.01}),
    ],
)
def test_keras_engine_options_are_refused_by_the_nengo_dl_engine(rng, option, value):
    images, labels = _data(rng)
    with pytest.raises(ValueError, match=f"{option}.* needs? engine='keras'"):
        train(
            _net(),
            ArrayData(images, labels),
            TrainConfig(epochs=1, **{option: value}),
            verbose=0,
        )
