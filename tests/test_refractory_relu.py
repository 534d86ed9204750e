"""Smoothing beyond LIF: the (soft) refractory rectified-linear neuron."""

import nengo
import numpy as np
import pytest

from nengo_softlif import GaussianNoise
from nengo_softlif.network.convert import to_hard_rate, to_spiking
from nengo_softlif.neurons.refractory_relu import (
    RefractoryRectifiedLinear,
    SoftRefractoryRectifiedLinear,
    refractory_relu_rates,
    soft_refractory_relu_derivative,
    soft_refractory_relu_rates,
)

TAU_REF, AMP = 0.002, 0.01
J = np.concatenate([np.linspace(-50, 400, 901), [-1e6, 0.0, 1e6]])


def test_hard_rate_is_the_refractory_integrate_and_fire_rate():
    j = np.array([-3.0, 0.0, 10.0, 100.0, 1e6])
    expected = [0, 0, 1 / (TAU_REF + 0.1), 1 / (TAU_REF + 0.01), 1 / (TAU_REF + 1e-6)]
    np.testing.assert_allclose(refractory_relu_rates(j, TAU_REF), expected)


def test_soft_rates_converge_to_hard_and_derivative_is_bounded():
    hard = refractory_relu_rates(J, TAU_REF, AMP)
    for sigma, tol in [(1.0, 0.7 * AMP), (0.01, 0.007 * AMP)]:
        soft = soft_refractory_relu_rates(J, sigma, TAU_REF, AMP)
        assert np.all(np.isfinite(soft)) and np.all(soft >= hard - 1e-12)
        assert np.max(soft - hard) <= tol  # sigma log 2 at J = 0, times AMP
    d = soft_refractory_relu_derivative(J, 1.0, TAU_REF, AMP)
    assert np.all(np.isfinite(d)) and d.min() >= 0 and d.max() <= AMP
    h, j = 1e-5, J[:901]
    numeric = (
        soft_refractory_relu_rates(j + h, 1.0, TAU_REF, AMP)
        - soft_refractory_relu_rates(j - h, 1.0, TAU_REF, AMP)
    ) / (2 * h)
    np.testing.assert_allclose(d[:901], numeric, rtol=1e-5, atol=1e-12)


def test_neuron_types_step_and_gain_bias():
    soft = SoftRefractoryRectifiedLinear(sigma=1.0, tau_ref=TAU_REF, amplitude=AMP)
    out = np.zeros_like(J)
    soft.step(0.001, J, out)
    np.testing.assert_allclose(out, soft_refractory_relu_rates(J, 1.0, TAU_REF, AMP))
    hard = RefractoryRectifiedLinear(tau_ref=TAU_REF)
    gain, bias = hard.gain_bias(np.array([100.0, 200.0]), np.array([-0.5, 0.2]))
    rates, intercepts = hard.max_rates_intercepts(gain, bias)
    np.testing.assert_allclose(rates, [100, 200])
    np.testing.assert_allclose(intercepts, [-0.5, 0.2])
    with pytest.raises(ValueError, match="1/tau_ref"):
        hard.gain_bias(np.array([600.0]), np.array([0.0]))


def test_spiking_equivalent_fires_at_the_hard_rate():
    currents = np.array([-5.0, 5.0, 40.0, 150.0, 400.0])
    soft = SoftRefractoryRectifiedLinear(sigma=1.0, tau_ref=TAU_REF, amplitude=AMP)
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(currents)
        ens = nengo.Ensemble(5, 1, neuron_type=soft, gain=np.ones(5), bias=np.zeros(5))
        nengo.Connection(inp, ens.neurons, synapse=None)
        net.probe = nengo.Probe(ens.neurons)
    spiking = to_spiking(net)
    (ens_s,) = spiking.all_ensembles
    assert isinstance(ens_s.neuron_type, nengo.RegularSpiking)
    assert ens_s.neuron_type.amplitude == AMP
    (ens_h,) = to_hard_rate(net).all_ensembles
    assert type(ens_h.neuron_type) is RefractoryRectifiedLinear
    (probe,) = spiking.all_probes
    with nengo.Simulator(spiking, progress_bar=False) as sim:
        sim.run(2.0)
    mean_rate = sim.data[probe].mean(axis=0) / AMP
    expected = refractory_relu_rates(currents, TAU_REF)
    np.testing.assert_allclose(mean_rate, expected, atol=1.0)  # one spike in 2 s


def test_tf_builder_matches_numpy_and_noise_is_training_only():
    nengo_dl = pytest.importorskip("nengo_dl")
    tf = pytest.importorskip("tensorflow")
    n = len(J)
    results = {}
    for neuron_type in (
        SoftRefractoryRectifiedLinear(1.0, TAU_REF, AMP, noise=GaussianNoise(10)),
        RefractoryRectifiedLinear(TAU_REF, AMP),
    ):
        with nengo.Network(seed=0) as net:
            nengo_dl.configure_settings(dtype="float64")
            inp = nengo.Node(np.zeros(n))
            ens = nengo.Ensemble(
                n, 1, neuron_type=neuron_type, gain=np.ones(n), bias=np.zeros(n)
            )
            nengo.Connection(inp, ens.neurons, synapse=None)
            probe = nengo.Probe(ens.neurons)
        with nengo_dl.Simulator(net, minibatch_size=2, progress_bar=False) as sim:
            x = tf.constant(np.tile(J[None, None], (2, 1, 1)))
            steps = np.ones((2, 1), np.int32)
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = sim.keras_model([x, steps], training=False)[0]
                total = tf.reduce_sum(out)
            grad = tape.gradient(total, x).numpy()[0, 0]
            trained = sim.keras_model([x, steps], training=True)[0].numpy()[:, 0]
        results[type(neuron_type)] = (out.numpy()[0, 0], grad, trained)
        del probe
    out, grad, trained = results[SoftRefractoryRectifiedLinear]
    np.testing.assert_allclose(out, soft_refractory_relu_rates(J, 1.0, TAU_REF, AMP))
    np.testing.assert_allclose(
        grad, soft_refractory_relu_derivative(J, 1.0, TAU_REF, AMP), atol=1e-12
    )
    noise = (trained - out) / AMP
    active = J > 0
    assert np.all(noise[:, ~active] == 0)
    assert 7 < np.std(noise[:, active & (J < 300)]) < 13  # std 10 Hz
    out, _, trained = results[RefractoryRectifiedLinear]
    np.testing.assert_allclose(out, refractory_relu_rates(J, TAU_REF, AMP))
    np.testing.assert_allclose(trained[0], out)
