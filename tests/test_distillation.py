"""Training against teachers (`TrainConfig.teachers`, knowledge distillation)."""

import numpy as np
import pytest
from training_helpers import assert_chunks_resume_exactly, three_class_images

from nengo_softlif import PRESETS, GaussianNoise
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import CheckpointError, get_params
from nengo_softlif.network.layers import Dense, Output
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

from architectures import TINY

tf = pytest.importorskip("tensorflow")
pytest.importorskip("nengo_softlif.keras")

BASE = {"minibatch_size": 50, "engine": "keras", "learning_rate": 1e-2}


def _net(seed=0, architecture=TINY):
    preset = PRESETS["cifar10"]
    neuron_type = preset.soft_lif(sigma=0.02, noise=GaussianNoise(10))
    return build_network(architecture, neuron_type, preset, seed=seed)


def _data(rng, n=300):
    return three_class_images(rng, n)


@pytest.fixture(name="teacher")
def fixture_teacher(tmp_path, rng):
    """A checkpoint of a network trained on the task of `_data`, and that data."""
    images, labels = _data(rng)
    path = str(tmp_path / "teacher.npz")
    train(
        _net(seed=1),
        ArrayData(images, labels),
        TrainConfig(epochs=4, **BASE),
        path,
        verbose=0,
    )
    return path, images, labels


def _predictions(net, images):
    from nengo_softlif.keras import keras_model  # noqa: PLC0415

    return keras_model(net)(images, training=False).numpy().argmax(-1)


def test_the_network_learns_the_teachers_answers(teacher, rng):
    """Trained on labels that are noise, with only the teacher's term, the
    network gives the teacher's answers; with only the labels' term it does not."""
    path, images, labels = teacher
    noise_labels = rng.permutation(labels)
    answers = _predictions(_load(path), images)
    assert np.mean(answers == labels) > 0.9  # the teacher learnt the task
    agreement = {}
    for weight in (0.0, 1.0):
        net = _net(seed=2)
        config = TrainConfig(
            epochs=8,
            teachers=(path,),
            distill_weight=weight,
            distill_temperature=1.0,
            **BASE,
        )
        train(net, ArrayData(images, noise_labels), config, verbose=0)
        agreement[weight] = np.mean(_predictions(net, images) == answers)
    assert agreement[1.0] > 0.85, agreement
    assert agreement[0.0] < 0.6, agreement


def _keras_teacher(images, labels, path, flat=False, softmax=False, classes=3):
    """A ReLU Keras model trained on ``images`` and saved at ``path``."""
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(3)
    x = inputs = tf.keras.Input((images.shape[1],) if flat else (8, 8, 2))
    if flat:
        x = layers.Reshape((8, 8, 2))(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(32, activation="relu")(layers.Flatten()(x))
    outputs = layers.Dense(classes, activation="softmax" if softmax else None)(x)
    model = tf.keras.Model(inputs, outputs)
    model.compile(
        tf.keras.optimizers.Adam(1e-2),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax),
    )
    given = images if flat else images.reshape((-1, 8, 8, 2))
    model.fit(given, labels, epochs=20, batch_size=50, verbose=0)
    model.save(path)
    return model.predict(given, verbose=0).argmax(-1)


@pytest.mark.parametrize("flat,suffix", [(False, ".keras"), (True, ".h5")])
def test_a_keras_model_is_a_teacher(flat, suffix, tmp_path, rng):
    """A Keras model (batch norm, ReLU; images flattened or in their shape)
    teaches as a checkpoint does: on noise labels, with only its term, the
    network gives its answers."""
    images, labels = _data(rng)
    path = str(tmp_path / f"teacher{suffix}")
    answers = _keras_teacher(images, labels, path, flat=flat)
    assert np.mean(answers == labels) > 0.9  # the teacher learnt the task
    net = _net(seed=2)
    config = TrainConfig(
        epochs=8,
        teachers=(path,),
        distill_weight=1.0,
        distill_temperature=1.0,
        **BASE,
    )
    train(net, ArrayData(images, rng.permutation(labels)), config, verbose=0)
    assert np.mean(_predictions(net, images) == answers) > 0.85


def test_bad_keras_teachers_are_refused_naming_the_fix(tmp_path, rng):
    images, labels = _data(rng, n=100)
    data = ArrayData(images, labels)

    def refused(path, match):
        with pytest.raises(CheckpointError, match=match):
            train(_net(), data, TrainConfig(teachers=(path,), **BASE), verbose=0)

    softmax = str(tmp_path / "softmax.keras")
    _keras_teacher(images, labels, softmax, softmax=True)
    refused(softmax, "ends in a softmax.*without its last softmax")
    five = str(tmp_path / "five.keras")
    _keras_teacher(images, np.arange(100) % 5, five, classes=5)
    refused(five, r"gives \(5,\).*3 class scores.*same task")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model")
    refused(str(junk), "not a Keras model.*model.save")


def _load(path):
    from nengo_softlif.network.checkpoint import load_network  # noqa: PLC0415

    return load_network(path)[0]


def test_weight_zero_is_training_without_teachers(teacher):
    path, images, labels = teacher
    plain, taught = _net(), _net()
    train(plain, ArrayData(images, labels), TrainConfig(epochs=1, **BASE), verbose=0)
    config = TrainConfig(epochs=1, teachers=(path,), distill_weight=0.0, **BASE)
    train(taught, ArrayData(images, labels), config, verbose=0)
    for key, value in get_params(plain).items():
        assert np.allclose(value, get_params(taught)[key], atol=1e-6), key


def test_resumes_exactly_and_only_with_the_same_teachers(teacher, tmp_path):
    path, images, labels = teacher
    data = ArrayData(images, labels)
    config = TrainConfig(epochs=2, teachers=(path,), **BASE)
    out = str(tmp_path / "student.npz")
    assert_chunks_resume_exactly(_net, data, config, out)
    other = TrainConfig(epochs=3, teachers=(path,), distill_temperature=4.0, **BASE)
    with pytest.raises(CheckpointError, match="distill_temperature"):
        train(_net(), data, other, out, verbose=0)
    # the teacher's file replaced by another network: refused too
    train(
        _net(seed=5), data, TrainConfig(epochs=1, **BASE), path, resume=False, verbose=0
    )
    with pytest.raises(CheckpointError, match="teachers: .*sha256"):
        train(
            _net(),
            data,
            TrainConfig(epochs=3, teachers=(path,), **BASE),
            out,
            verbose=0,
        )


def test_bad_teachers_are_refused_naming_the_fix(teacher, tmp_path):
    path, images, labels = teacher
    data = ArrayData(images, labels)
    with pytest.raises(FileNotFoundError, match="not found.*drop the teachers"):
        train(_net(), data, TrainConfig(teachers=(str(tmp_path / "no.npz"),), **BASE))
    other = Architecture("other", (8, 8, 2), (Dense(8), Output(5)))
    five = str(tmp_path / "five.npz")
    images5 = images[:100]
    train(
        _net(architecture=other),
        ArrayData(images5, np.arange(100) % 5),
        TrainConfig(epochs=1, **BASE),
        five,
        verbose=0,
    )
    with pytest.raises(CheckpointError, match="5 classes.*same task"):
        train(_net(), data, TrainConfig(teachers=(five,), **BASE), verbose=0)
    named = str(tmp_path / "named.npz")
    classes = ("a", "b", "c")
    train(
        _net(),
        ArrayData(images, labels, classes=classes),
        TrainConfig(epochs=1, **BASE),
        named,
        verbose=0,
    )
    with pytest.raises(CheckpointError, match=r"classes \['a', 'b', 'c'\].*order"):
        train(
            _net(),
            ArrayData(images, labels, classes=("b", "a", "c")),
            TrainConfig(teachers=(named,), **BASE),
            verbose=0,
        )


@pytest.mark.parametrize("own,theirs", [(0.1, None), (None, 0.2), (0.1, 0.3)])
def test_each_teacher_sees_images_prepared_as_it_was_trained(
    own, theirs, tmp_path, rng
):
    """The offsets turn the training data's preparation into the teacher's."""
    from nengo_softlif.training.distillation import (  # noqa: PLC0415
        teacher_input_offsets,
    )

    images, labels = _data(rng)
    raw = images + 0.5
    means = {
        k: None if v is None else np.full(raw.shape[1], v, np.float32)
        for k, v in (("own", own), ("theirs", theirs))
    }

    def prepared(mean):
        return raw if mean is None else raw - mean

    def preprocessing(mean):
        return {} if mean is None else {"mean_image": mean}

    path = str(tmp_path / "teacher.npz")
    teacher_data = ArrayData(
        prepared(means["theirs"]), labels, preprocessing=preprocessing(means["theirs"])
    )
    train(_net(), teacher_data, TrainConfig(epochs=1, **BASE), path, verbose=0)
    data = ArrayData(
        prepared(means["own"]), labels, preprocessing=preprocessing(means["own"])
    )
    (offset,) = teacher_input_offsets([path], data, (8, 8, 2))
    np.testing.assert_allclose(
        prepared(means["own"]) + offset, prepared(means["theirs"]), atol=1e-6
    )


def test_distillation_loss_is_the_formula(rng):
    """(1 - w) CE + w T^2 KL(mean teacher probabilities || network's), at T."""
    from nengo_softlif.training.distillation import (  # noqa: PLC0415
        distillation_loss,
    )

    x = rng.normal(size=(6, 4)).astype(np.float32)
    fixed = [rng.normal(0, 3, (6, 5)).astype(np.float32) for _ in range(2)]
    teachers = [lambda x, training, out=out: tf.constant(out) for out in fixed]
    logits = rng.normal(0, 2, (6, 5)).astype(np.float32)
    temperature, weight, hard = 2.0, 0.3, 1.7
    loss = distillation_loss(tf, teachers, temperature, weight)
    got = float(loss(tf.constant(x), tf.constant(logits), tf.constant(hard)))

    def softmax(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    p = np.mean([softmax(out / temperature) for out in fixed], axis=0)
    q = softmax(logits / temperature)
    kl = np.mean(np.sum(p * (np.log(p) - np.log(q)), -1))
    expected = (1 - weight) * hard + weight * temperature**2 * kl
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "values,error,match",
    [
        ({"teachers": "a.npz"}, TypeError, r"sequence of paths \(checkpoints"),
        ({"teachers": (3,)}, TypeError, "paths of checkpoints or Keras models"),
        ({"teachers": ("a.npz",), "engine": "nengo-dl"}, ValueError, "engine='keras'"),
        ({"teachers": ("a.npz",), "distill_weight": 1.5}, ValueError, r"\[0, 1\]"),
        ({"teachers": ("a",), "distill_temperature": 0}, ValueError, "temperature"),
        ({"distill_weight": 0.5}, ValueError, "acts only with teachers"),
        ({"distill_temperature": 4.0}, ValueError, "acts only with teachers"),
    ],
)
def test_config_refuses_bad_teacher_settings(values, error, match):
    values = {"engine": "keras", **values}
    with pytest.raises(error, match=match):
        TrainConfig(**values)


def test_teachers_are_stored_as_a_tuple_of_paths(tmp_path):
    config = TrainConfig(engine="keras", teachers=[tmp_path / "a.npz"])
    assert config.teachers == (str(tmp_path / "a.npz"),)


def test_a_sweep_record_of_a_run_with_teachers_matches_its_settings():
    """Stored as JSON (tuples as lists), a record still matches its settings."""
    import dataclasses  # noqa: PLC0415
    import json  # noqa: PLC0415

    from nengo_softlif.experiments.experiment import ExperimentConfig  # noqa
    from nengo_softlif.experiments.sweep import _matches  # noqa: PLC0415

    experiment = ExperimentConfig()
    for config in (TrainConfig(), TrainConfig(engine="keras", teachers=("a.npz",))):
        record = json.loads(
            json.dumps(
                {
                    "train_config": dataclasses.asdict(config),
                    "experiment": dataclasses.asdict(experiment),
                }
            )
        )
        assert _matches(record, config, experiment)
    assert not _matches(record, TrainConfig(engine="keras"), experiment)
