"""Training and evaluation in nengo-dl, against the nengo reference simulator."""

import numpy as np
import pytest

from nengo_softlif import PRESETS, GaussianNoise
from nengo_softlif.evaluation.runner import Protocol, evaluate, layer_fan_out
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import get_params, load_checkpoint
from nengo_softlif.network.convert import to_spiking
from nengo_softlif.network.layers import Dense, Output
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

from architectures import TINY_GRAY

pytest.importorskip("tensorflow")

TINY = TINY_GRAY


def toy_data(rng, n=200):
    labels = rng.integers(0, 2, n)
    images = rng.uniform(0, 0.3, (n, 8, 8, 1))
    images[labels == 1, :, :4] += 0.7
    return images.astype(np.float32), labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    rng = np.random.default_rng(0)
    images, labels = toy_data(rng)
    preset = PRESETS["cifar10"]
    net = build_network(TINY, preset.soft_lif(noise=GaussianNoise(10)), preset, seed=0)
    before = get_params(net)
    path = tmp_path_factory.mktemp("train") / "ck.npz"
    result = train(
        net,
        ArrayData(images, labels),
        TrainConfig(
            epochs=3, minibatch_size=50, learning_rate=0.01, lr_schedule="constant"
        ),
        checkpoint_path=str(path),
        verbose=0,
    )
    return net, before, result, path, images, labels


def test_training_lowers_loss_and_reaches_all_weights(trained):
    net, before, result, _, _, _ = trained
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0]
    after = get_params(net)
    for key in (
        "conv1.weights",
        "local1.weights",
        "fc1.weights",
        "output.weights",
        "fc1.bias",
    ):
        assert not np.allclose(before[key], after[key]), f"{key} did not train"
    # the fixed average-pooling weights are not trained
    assert np.array_equal(before["pool1.weights"], after["pool1.weights"])


def test_training_resumes_from_checkpoint(trained, tmp_path):
    net, _, _, path, images, labels = trained
    _, meta = load_checkpoint(path)
    assert meta["state"]["epoch"] == 3
    config = TrainConfig(
        epochs=4, minibatch_size=50, learning_rate=0.01, lr_schedule="constant"
    )
    result = train(
        net, ArrayData(images, labels), config, checkpoint_path=str(path), verbose=0
    )
    assert result.epochs_run == 1 and [h["epoch"] for h in result.history] == [
        1,
        2,
        3,
        4,
    ]
    wrong = build_network(Architecture("other", (8, 8, 1), (Dense(5), Output(2))))
    from nengo_softlif.network.checkpoint import CheckpointError  # noqa: PLC0415

    with pytest.raises(CheckpointError, match="architecture"):
        train(
            wrong,
            ArrayData(images, labels),
            config,
            checkpoint_path=str(path),
            verbose=0,
        )


def test_static_evaluation_same_in_nengo_and_nengo_dl(trained):
    net, _, _, _, images, labels = trained
    dl = evaluate(net, images[:40], labels[:40], backend="nengo-dl", minibatch_size=20)
    ref = evaluate(net, images[:40], labels[:40], backend="nengo")
    assert np.allclose(dl.outputs, ref.outputs, rtol=1e-4, atol=1e-4)
    assert dl.error < 0.2  # the toy task is learned


@pytest.mark.parametrize("reset, minibatch_size", [(False, 1), (True, 3)])
def test_spiking_same_in_nengo_and_nengo_dl(trained, reset, minibatch_size):
    """Same network and input: the same spiking result in both simulators.

    Without a reset each minibatch item is its own stream of images, so the
    histories (and outputs) match the reference's single stream only for
    ``minibatch_size=1``; with a reset any minibatch size matches.
    """
    net, _, _, _, images, labels = trained
    spiking = to_spiking(net)
    protocol = Protocol(presentation_time=0.1, t_start=0.05, t_end=0.1, reset=reset)
    dl = evaluate(
        spiking,
        images[:6],
        labels[:6],
        protocol,
        backend="nengo-dl",
        minibatch_size=minibatch_size,
        unroll=5,
    )
    ref = evaluate(spiking, images[:6], labels[:6], protocol, backend="nengo")
    # float32 (nengo-dl) and float64 (nengo) spike times can differ by a step now
    # and then; the read-out means agree closely and the classes exactly
    scale = np.abs(ref.outputs).max()
    assert np.max(np.abs(dl.outputs - ref.outputs)) < 0.02 * scale
    assert np.array_equal(dl.predictions, ref.predictions)
    for name, rate in ref.layer_rates.items():
        assert dl.layer_rates[name] == pytest.approx(rate, rel=0.02)
    assert dl.synaptic_events_per_image == pytest.approx(
        ref.synaptic_events_per_image, rel=0.02
    )
    assert dl.neuron_updates_per_image == net.n_neurons * 100
    curve = dl.error_vs_time
    assert len(curve["t_ms"]) == len(curve["error"]) > 10 and curve["t_ms"][-1] == 100


def test_minibatch_streams_equal_a_single_stream(trained):
    net, _, _, _, images, labels = trained
    spiking = to_spiking(net)
    protocol = Protocol(presentation_time=0.05, t_start=0.02, t_end=0.05, reset=True)
    one = evaluate(spiking, images[:5], labels[:5], protocol, minibatch_size=1)
    many = evaluate(
        spiking, images[:5], labels[:5], protocol, minibatch_size=2
    )  # padded
    assert np.allclose(one.outputs, many.outputs, atol=1e-5)


def test_reset_changes_only_carried_over_state(trained):
    net, _, _, _, images, labels = trained
    spiking = to_spiking(net)
    kw = dict(presentation_time=0.03, t_start=0.0, t_end=0.03)
    reset = evaluate(
        spiking, images[:4], labels[:4], Protocol(**kw, reset=True), backend="nengo"
    )
    carry = evaluate(spiking, images[:4], labels[:4], Protocol(**kw), backend="nengo")
    assert np.allclose(reset.outputs[0], carry.outputs[0])  # first image: same start
    assert not np.allclose(reset.outputs[1:], carry.outputs[1:])


def test_bad_inputs_raise_clear_errors(trained):
    net, _, _, _, images, labels = trained
    with pytest.raises(ValueError, match="network input has 64"):
        evaluate(net, np.zeros((3, 9, 9, 1)), labels[:3], backend="nengo")
    bad = images[:3].copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate(net, bad, labels[:3], backend="nengo")
    with pytest.raises(ValueError, match="labels"):
        evaluate(net, images[:3], labels[:2], backend="nengo")
    with pytest.raises(ValueError, match="backend"):
        evaluate(net, images[:3], labels[:3], backend="spinnaker")
    with pytest.raises(ValueError, match="t_start"):
        Protocol(t_start=0.3)
    with pytest.raises(ValueError, match="NaN"):
        ArrayData(np.full((2, 8, 8, 1), np.nan), [0, 1])(0, None)


def test_fan_out_of_the_paper_networks():
    fan = layer_fan_out(build_network("mnist").architecture)
    assert np.all(fan["fc1"] == 10)
    # conv1 neuron -> one 2x2 pool cell -> a 5x5 window of 64 conv2 filters
    assert fan["conv1"].reshape(28, 28, 16)[14, 14, 0] == 25 * 64
    assert fan["conv2"].max() == 2000
    cifar = layer_fan_out(build_network("cifar10", lif_params="cifar10").architecture)
    assert cifar["local2"].max() == 10 and cifar["local1"].max() == 9 * 32
