"""Sigma annealing during nengo-dl training."""

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS, SoftLIFRate
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import load_checkpoint
from nengo_softlif.network.layers import Conv, Dense, Output
from nengo_softlif.neurons.softlif import soft_lif_rates
from nengo_softlif.training.anneal import SigmaAnnealing
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

pytest.importorskip("tensorflow")


def test_schedule_values():
    anneal = SigmaAnnealing(epochs=5, end=0.002)
    sigmas = [anneal.sigma_at(e, 0.02) for e in range(5)]
    assert sigmas[0] == pytest.approx(0.02) and sigmas[-1] == pytest.approx(0.002)
    assert np.allclose(np.diff(np.log(sigmas)), np.log(0.1) / 4)  # geometric
    with pytest.raises(ValueError, match="end sigma"):
        SigmaAnnealing(epochs=3, end=0)


def test_per_step_schedule_spans_every_step_of_training():
    anneal = SigmaAnnealing(epochs=2, end=0.002)
    sigmas = [anneal.sigma_at(e, 0.02, k, 3) for e in range(2) for k in range(3)]
    assert sigmas[0] == pytest.approx(0.02) and sigmas[-1] == pytest.approx(0.002)
    # one constant factor per step, also across the epoch boundary
    assert np.allclose(np.diff(np.log(sigmas)), np.log(0.1) / 5)


def test_annealing_changes_the_running_simulator_and_the_network(tmp_path):
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    import tensorflow as tf  # noqa: PLC0415

    from nengo_softlif import dl  # noqa: PLC0415

    n = 50
    J = np.linspace(0.8, 1.3, n)  # near the threshold, where sigma matters
    neuron = SoftLIFRate(sigma=0.05, tau_rc=0.05, tau_ref=0.001)
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(n))
        ens = nengo.Ensemble(
            n, 1, neuron_type=neuron, gain=np.ones(n), bias=np.zeros(n)
        )
        nengo.Connection(inp, ens.neurons, synapse=None)
        nengo.Probe(ens.neurons)
    anneal = SigmaAnnealing(epochs=3, end=0.005, per_step=False)
    with nengo_dl.Simulator(net, progress_bar=False) as sim:
        x = tf.constant(J[None, None, :], dtype=tf.float32)
        steps = np.ones((1, 1), np.int32)
        for epoch, sigma in enumerate([0.05, np.sqrt(0.05 * 0.005), 0.005]):
            anneal(epoch, sim, net)
            out = sim.keras_model([x, steps], training=False)
            out = (out[0] if isinstance(out, (list, tuple)) else out).numpy()[0, 0]
            assert np.allclose(out, soft_lif_rates(J, sigma, 0.05, 0.001), rtol=1e-4)
            assert ens.neuron_type.sigma == pytest.approx(sigma)
        assert float(dl.simulator_sigma_scale(sim).numpy()) == pytest.approx(0.1)
    anneal.on_train_end(net)
    # another simulator of the network: the annealed sigma, its own scale of 1
    with nengo_dl.Simulator(net, progress_bar=False) as other:
        assert float(dl.simulator_sigma_scale(other).numpy()) == 1.0
        out = other.keras_model([x, steps], training=False)
        out = (out[0] if isinstance(out, (list, tuple)) else out).numpy()[0, 0]
        assert np.allclose(out, soft_lif_rates(J, 0.005, 0.05, 0.001), rtol=1e-4)


def small_training_setup(rng, n_images, layers=(Dense(8), Output(2))):
    """A small soft-LIF network (sigma 0.02) and ``n_images`` random images."""
    arch = Architecture("small", (6, 6, 1), tuple(layers))
    preset = PRESETS["mnist"]
    net = build_network(arch, preset.soft_lif(sigma=0.02), preset)
    data = ArrayData(
        rng.uniform(size=(n_images, 6, 6, 1)), rng.integers(0, 2, n_images)
    )
    return net, data


def test_train_with_annealing_saves_the_final_sigma(tmp_path, rng):
    net, data = small_training_setup(
        rng, 100, (Conv(2, 3, padding=1), Dense(8), Output(2))
    )
    path = tmp_path / "ck.npz"
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    batches = []
    counter = tf.keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    train(
        net,
        data,
        TrainConfig(epochs=2, minibatch_size=50),
        checkpoint_path=str(path),
        callbacks=[SigmaAnnealing(epochs=2, end=0.004)],
        verbose=0,
        keras_callbacks=[counter],
    )
    assert batches == [0, 1, 0, 1]  # keras callbacks see every step of every epoch
    _, meta = load_checkpoint(path)
    assert meta["neuron_type"]["sigma"] == pytest.approx(0.004)
    assert all(e.neuron_type.sigma == pytest.approx(0.004) for e in net.all_ensembles)


def test_a_one_epoch_run_is_annealed_at_every_step(tmp_path, rng):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from nengo_softlif import dl  # pylint: disable=import-outside-toplevel

    net, data = small_training_setup(rng, 100)
    seen = []  # the sigma each step runs with (keras_callbacks run after annealing)

    class Probe(tf.keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            (graph,) = [
                layer for layer in self.model.layers if hasattr(layer, "signals")
            ]
            seen.append(0.02 * float(dl.sigma_scale(graph.signals).numpy()))

    probe = Probe()
    path = tmp_path / "ck.npz"
    train(
        net,
        data,
        TrainConfig(epochs=1, minibatch_size=25),
        checkpoint_path=str(path),
        callbacks=[SigmaAnnealing(epochs=1, end=0.004)],
        verbose=0,
        keras_callbacks=[probe],
    )
    assert np.allclose(seen, 0.02 * 0.2 ** (np.arange(4) / 3), rtol=1e-5)
    _, meta = load_checkpoint(path)
    assert meta["neuron_type"]["sigma"] == pytest.approx(0.004)


def test_sigma_scale_is_reset_when_training_fails(rng):
    from nengo_softlif import dl  # pylint: disable=import-outside-toplevel

    net, data = small_training_setup(rng, 10)
    with pytest.raises(ValueError, match="fewer than one minibatch"):
        train(  # the annealing has scaled sigma (start 0.05) when the data fails
            net,
            data,
            TrainConfig(epochs=2, minibatch_size=50),
            callbacks=[SigmaAnnealing(epochs=2, end=0.004, start=0.05)],
            verbose=0,
        )
    # the scale was the failed run's simulator's own: a new one starts at 1
    nengo_dl = pytest.importorskip("nengo_dl")
    with nengo_dl.Simulator(net, progress_bar=False) as sim:
        assert float(dl.simulator_sigma_scale(sim).numpy()) == 1.0
