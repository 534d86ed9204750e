"""Fewer spikes per answer: a rate penalty, read-out windows and early decisions."""

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS, Protocol, build_network, evaluate, to_spiking
from nengo_softlif.data import load_embedded_mnist
from nengo_softlif.evaluation.metrics import early_decisions, window_errors
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network import Architecture, AvgPool, Conv, Dense, Output
from nengo_softlif.training import TrainConfig, train

pytest.importorskip("tensorflow")

SMALL = Architecture(
    "small", (28, 28, 1), (Conv(4, 5, stride=2), AvgPool(2), Dense(32), Output(10))
)


@pytest.fixture(scope="module")
def data():
    task = get_task("mnist-sample")
    train_data, test_images, test_labels = task.training_data(load_embedded_mnist())
    return train_data, test_images[:200], test_labels[:200]


def _trained(data, **penalty):
    preset = PRESETS["mnist"]
    net = build_network(SMALL, preset.soft_lif(hard_forward=True), preset, seed=0)
    config = TrainConfig(epochs=2, engine="keras", learning_rate=3e-3, **penalty)
    train(net, data[0], config, verbose=0)
    return net


def test_a_rate_penalty_lowers_the_rates(data):
    _, images, labels = data
    plain = evaluate(_trained(data), images, labels, backend="nengo-dl")
    penalised = evaluate(
        _trained(data, rate_penalty=1e-4, rate_target=0.0),
        images,
        labels,
        backend="nengo-dl",
    )
    assert sum(plain.layer_rates.values()) > 0
    for name, rate in plain.layer_rates.items():
        assert penalised.layer_rates[name] < 0.8 * rate, name
    assert penalised.error < plain.error + 0.1  # it still classifies


def test_rate_penalty_needs_the_keras_engine(data):
    preset = PRESETS["mnist"]
    net = build_network(SMALL, preset.soft_lif(), preset)
    with pytest.raises(ValueError, match="rate_penalty needs engine='keras'"):
        train(net, data[0], TrainConfig(epochs=1, rate_penalty=1e-3), verbose=0)


@pytest.fixture(scope="module")
def spiking(data):
    return to_spiking(_trained(data), synapse=nengo.Alpha(0.005))


def test_window_sweep_equals_separate_runs(spiking, data):
    _, images, labels = data
    images, labels = images[:20], labels[:20]
    windows = [(0.02, 0.06), (0.04, 0.1), (0.07, 0.1)]
    swept = evaluate(
        spiking,
        images,
        labels,
        Protocol(presentation_time=0.1, t_start=0.05, t_end=0.1),
        backend="fast",
        dtype="float64",
        windows=windows,
    )
    for (t_start, t_end), row in zip(windows, swept.readouts["windows"], strict=True):
        alone = evaluate(
            spiking,
            images,
            labels,
            Protocol(presentation_time=0.1, t_start=t_start, t_end=t_end),
            backend="fast",
            dtype="float64",
        )
        assert row["error"] == pytest.approx(alone.error)
        assert row["t_start_ms"] == pytest.approx(1000 * t_start)


def test_early_decisions_bounds(rng):
    traces = rng.uniform(size=(30, 50, 4))
    labels = rng.integers(0, 4, 30)
    never = early_decisions(traces, labels, 0.001, margin=np.inf, t_min=0.01)
    (whole,) = window_errors(traces, labels, 0.001, [(0.01, 0.05)])
    assert never["error"] == pytest.approx(whole)
    assert never["mean_decision_s"] == pytest.approx(0.05)
    assert never["decided_early"] == 0
    at_once = early_decisions(traces, labels, 0.001, margin=0.0, t_min=0.01)
    assert at_once["mean_decision_s"] == pytest.approx(0.011)
    assert at_once["decided_early"] == 1
    (first_step,) = window_errors(traces, labels, 0.001, [(0.01, 0.011)])
    assert at_once["error"] == pytest.approx(first_step)


def test_sharded_read_outs_equal_one_run(spiking, data):
    from nengo_softlif.evaluation.distributed import evaluate_parallel  # noqa: PLC0415

    _, images, labels = data
    images, labels = images[:12], labels[:12]
    protocol = Protocol(presentation_time=0.06, t_start=0.03, t_end=0.06)
    options = {"windows": [(0.01, 0.06)], "decision_margins": [0.5], "dtype": "float64"}
    one = evaluate(spiking, images, labels, protocol, backend="fast", **options)
    sharded = evaluate_parallel(
        spiking, images, labels, protocol, workers=2, backend="fast", **options
    )
    for kind in ("windows", "early"):
        for a, b in zip(one.readouts[kind], sharded.readouts[kind], strict=True):
            assert a["error"] == pytest.approx(b["error"])
    assert sharded.readouts["early"][0]["mean_decision_s"] == pytest.approx(
        one.readouts["early"][0]["mean_decision_s"]
    )
