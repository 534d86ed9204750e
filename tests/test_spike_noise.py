"""Noise models matched to real filtered spike trains (beyond the paper)."""

import nengo
import numpy as np
import pytest

from nengo_softlif import RateGaussianNoise, SpikeNoise
from nengo_softlif.neurons.noise import (
    alpha_filtered_spike_std,
    alpha_filtered_spike_value,
    parse_noise,
    to_spec,
)

TAU_RC, TAU_REF, TAU_S = 0.05, 0.001, 0.005
RATES_J = np.array([1.2, 1.6, 2.5, 4.0, 8.0])  # about 9 to 140 Hz (CIFAR-10 neurons)


@pytest.fixture(scope="module")
def simulated():
    """Alpha-filtered spike trains of real nengo LIF neurons at constant input."""
    n = len(RATES_J)
    dt = 2e-4
    with nengo.Network(seed=0) as net:
        ens = nengo.Ensemble(
            n,
            1,
            neuron_type=nengo.LIF(tau_rc=TAU_RC, tau_ref=TAU_REF),
            gain=np.zeros(n),
            bias=RATES_J,
        )
        probe = nengo.Probe(ens.neurons, synapse=nengo.Alpha(TAU_S))
    with nengo.Simulator(net, dt=dt, progress_bar=False) as sim:
        sim.run(4.0)
    rates = nengo.LIF(tau_rc=TAU_RC, tau_ref=TAU_REF).rates(0, 0, RATES_J).ravel()
    return sim.data[probe][int(0.5 / dt) :], rates


def test_closed_form_mean_and_std_are_exact():
    phases = (np.arange(200000) + 0.5) / 200000
    for rate in (3.0, 20.0, 150.0, 900.0):
        values = alpha_filtered_spike_value(phases, rate, TAU_S)
        assert values.mean() == pytest.approx(rate, rel=1e-6)
        assert values.std() == pytest.approx(
            float(alpha_filtered_spike_std(rate, TAU_S)), rel=1e-4
        )


def test_spike_noise_quantiles_match_simulated_lif_trains(simulated, rng):
    trains, rates = simulated
    qs = [5, 25, 50, 75, 95]
    for i, rate in enumerate(rates):
        samples = SpikeNoise(TAU_S).apply(
            np.full(100000, rate), np.ones(100000, bool), rng
        )
        empirical = np.percentile(trains[:, i], qs)
        model = np.percentile(samples, qs)
        # tolerance: the simulation's 0.2 ms time step and finite length
        assert np.all(np.abs(model - empirical) < 0.03 * rate + 0.5), (
            rate,
            model,
            empirical,
        )
        standard_error = samples.std() / np.sqrt(samples.size)
        assert abs(samples.mean() - rate) < 4 * standard_error


def test_rate_gaussian_spread_matches_simulated_lif_trains(simulated, rng):
    trains, rates = simulated
    for i, rate in enumerate(rates):
        # the model's spread is the spread of the real filtered train
        spread = float(alpha_filtered_spike_std(rate, TAU_S))
        assert spread == pytest.approx(trains[:, i].std(), rel=0.03)
        samples = RateGaussianNoise(TAU_S).apply(
            np.full(100000, rate), np.ones(100000, bool), rng
        )
        assert np.all(samples >= 0)  # clipped at 0, like the paper's Gaussian


def test_spike_noise_only_where_active(rng):
    rates = np.array([0.0, 5.0, 50.0])
    out = SpikeNoise().apply(rates, np.array([True, False, True]), rng)
    assert out[0] == 0 and out[1] == 5.0 and out[2] != 50.0


def test_specs_round_trip():
    noise = parse_noise("gaussian-rate:0.005:2+spike:0.003")
    assert noise.components() == (RateGaussianNoise(0.005, 2.0), SpikeNoise(0.003))
    assert parse_noise(to_spec(noise)) == noise


def test_tf_implementations_match_numpy_statistics(rng):
    pytest.importorskip("tensorflow")
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    import tensorflow as tf  # noqa: PLC0415

    from nengo_softlif import SoftLIFRate  # noqa: PLC0415
    from nengo_softlif.neurons.softlif import soft_lif_rates  # noqa: PLC0415

    J = np.linspace(1.5, 6, 400)
    clean = soft_lif_rates(J, 0.02, TAU_RC, TAU_REF)
    for noise in (SpikeNoise(TAU_S), RateGaussianNoise(TAU_S)):
        with nengo.Network(seed=0) as net:
            inp = nengo.Node(np.zeros(len(J)))
            ens = nengo.Ensemble(
                len(J),
                1,
                neuron_type=SoftLIFRate(tau_rc=TAU_RC, tau_ref=TAU_REF, noise=noise),
                gain=np.ones(len(J)),
                bias=np.zeros(len(J)),
            )
            nengo.Connection(inp, ens.neurons, synapse=None)
            nengo.Probe(ens.neurons)
        batch = 500
        with nengo_dl.Simulator(net, minibatch_size=batch, progress_bar=False) as sim:
            x = tf.constant(np.tile(J[None, None, :], (batch, 1, 1)), dtype=tf.float32)
            out = sim.keras_model([x, np.ones((batch, 1), np.int32)], training=True)
            out = (out[0] if isinstance(out, (list, tuple)) else out).numpy()[:, 0]
        reference = noise.apply(
            np.tile(clean, (batch, 1)), np.ones((batch, len(J)), bool), rng
        )
        # same distribution as the numpy reference (means within 5 standard errors)
        standard_error = reference.std(0) / np.sqrt(batch)
        assert (
            np.mean(np.abs(out.mean(0) - reference.mean(0)) < 5 * standard_error) > 0.99
        )
        assert out.std(0).mean() == pytest.approx(reference.std(0).mean(), rel=0.05)
