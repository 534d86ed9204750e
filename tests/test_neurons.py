"""SoftLIFRate: formula, limits, numerical safety, parameters, nengo integration."""

import nengo
import numpy as np
import pytest
from nengo.exceptions import ValidationError

from nengo_softlif import PRESETS, GaussianNoise, LIFParams, SoftLIFRate
from nengo_softlif.neurons.softlif import soft_lif_derivative, soft_lif_rates

TAU_RC, TAU_REF, AMP = 0.05, 0.001, 0.063


def analytic_soft_lif(J, sigma, tau_rc, tau_ref, amplitude):
    """The paper's Eq. 3, written directly (valid where it does not overflow)."""
    rho = sigma * np.log1p(np.exp((J - 1) / sigma))
    return amplitude / (tau_ref + tau_rc * np.log1p(1 / rho))


def test_matches_analytic_formula_at_sigma_002():
    J = np.linspace(-0.5, 10, 2001)
    neuron = SoftLIFRate(sigma=0.02, tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP)
    rates = neuron.rates(J, gain=1, bias=0).ravel()
    assert np.allclose(
        rates, analytic_soft_lif(J, 0.02, TAU_RC, TAU_REF, AMP), rtol=1e-9
    )


def test_approaches_lif_rate_as_sigma_goes_to_zero():
    J = np.concatenate([np.linspace(-3, 0.95, 200), np.linspace(1.05, 50, 2000)])
    hard = nengo.LIFRate(tau_rc=TAU_RC, tau_ref=TAU_REF).rates(J, 1, 0).ravel()
    soft = (
        SoftLIFRate(sigma=1e-4, tau_rc=TAU_RC, tau_ref=TAU_REF).rates(J, 1, 0).ravel()
    )
    max_rate = 1 / TAU_REF
    assert np.max(np.abs(soft - hard)) < 1e-3 * max_rate
    # and the difference really shrinks with sigma (the test can fail)
    coarse = (
        SoftLIFRate(sigma=0.1, tau_rc=TAU_RC, tau_ref=TAU_REF).rates(J, 1, 0).ravel()
    )
    assert np.max(np.abs(coarse - hard)) > 10 * np.max(np.abs(soft - hard))


def test_monotone_finite_and_bounded_derivative():
    J = np.concatenate(
        [np.linspace(-1e6, 1e6, 200001), np.linspace(0.9, 1.1, 2001), [1.0]]
    )
    J.sort()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        rates = soft_lif_rates(J, 0.02, TAU_RC, TAU_REF, AMP)
        deriv = soft_lif_derivative(J, 0.02, TAU_RC, TAU_REF, AMP)
    assert np.all(np.isfinite(rates)) and np.all(np.isfinite(deriv))
    assert np.all(np.diff(rates) >= 0)
    assert np.all(rates >= 0) and np.all(deriv >= 0)
    assert deriv.max() < 100  # bounded (the hard LIF's is infinite at J = 1)


def test_derivative_matches_finite_differences():
    J = np.linspace(-1, 6, 7001)
    neuron = SoftLIFRate(sigma=0.02, tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP)
    h = 1e-6
    numeric = (neuron.rates(J + h, 1, 0) - neuron.rates(J - h, 1, 0)) / (2 * h)
    assert np.allclose(neuron.derivative(J, 1, 0), numeric, rtol=1e-5, atol=1e-8)
    # gain scales the derivative with respect to x
    assert np.allclose(
        neuron.derivative(J, 2.0, 0), 2 * neuron.derivative(2 * J, 1, 0) / 1
    )


def test_gain_bias_consistent_with_lif():
    soft = SoftLIFRate(tau_rc=TAU_RC, tau_ref=TAU_REF)
    lif = nengo.LIF(tau_rc=TAU_RC, tau_ref=TAU_REF)
    max_rates, intercepts = np.array([100.0, 200.0]), np.array([-0.5, 0.3])
    assert np.allclose(
        soft.gain_bias(max_rates, intercepts), lif.gain_bias(max_rates, intercepts)
    )
    gain, bias = np.array([2.0, 0.825]), np.array([1.0, 1.5])
    assert np.allclose(
        soft.max_rates_intercepts(gain, bias), lif.max_rates_intercepts(gain, bias)
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sigma": 0},
        {"sigma": -0.1},
        {"tau_rc": 0},
        {"tau_ref": -0.001},
        {"amplitude": 0},
        {"noise": "gaussian"},
        {"noise": 10},
    ],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValidationError):
        SoftLIFRate(**kwargs)


def test_bad_noise_message_names_the_allowed_models():
    with pytest.raises(ValidationError, match="GaussianNoise"):
        SoftLIFRate(noise=object())


def test_runs_in_nengo_simulator_without_noise():
    neuron = SoftLIFRate(noise=GaussianNoise(10), tau_rc=TAU_RC, tau_ref=TAU_REF)
    with nengo.Network(seed=1) as net:
        stim = nengo.Node([0.5])
        ens = nengo.Ensemble(20, 1, neuron_type=neuron)
        nengo.Connection(stim, ens.neurons, transform=np.ones((20, 1)), synapse=None)
        probe = nengo.Probe(ens.neurons)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(3)
    expected = neuron.rates(0.5, sim.data[ens].gain, sim.data[ens].bias)
    # noise never acts in nengo.Simulator: every step gives the clean rate
    assert np.allclose(sim.data[probe], expected[None, :])


def test_presets_and_their_neurons():
    cifar = PRESETS["cifar10"]
    assert (cifar.tau_rc, cifar.tau_ref, cifar.amplitude, cifar.gain, cifar.bias) == (
        0.05,
        0.001,
        0.063,
        0.825,
        1.0,
    )
    mnist = PRESETS["mnist"]
    assert (mnist.tau_rc, mnist.tau_ref, mnist.gain) == (0.022, 0.002, 1.0)
    soft, lif = mnist.soft_lif(noise=GaussianNoise(10)), mnist.lif()
    assert (soft.tau_rc, soft.tau_ref, soft.amplitude) == (
        lif.tau_rc,
        lif.tau_ref,
        lif.amplitude,
    )
    with pytest.raises(ValueError, match="tau_rc"):
        LIFParams(tau_rc=0, tau_ref=0.001, amplitude=1, gain=1, bias=1)


def test_preset_gives_a_layer_its_gain_and_bias():
    preset = PRESETS["cifar10"]
    with nengo.Network() as net:
        ens = nengo.Ensemble(7, 1, **preset.ensemble_kwargs(7))
    with nengo.Simulator(net, progress_bar=False) as sim:
        assert np.allclose(sim.data[ens].gain, 0.825)
        assert np.allclose(sim.data[ens].bias, 1.0)
    assert isinstance(ens.neuron_type, SoftLIFRate) and ens.neuron_type.tau_rc == 0.05
