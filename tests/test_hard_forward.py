"""Hard-forward soft LIF: the hard LIF rate forward, the soft derivative backward."""

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS, SoftLIFRate
from nengo_softlif.neurons.softlif import hard_lif_rates, soft_lif_derivative

tf = pytest.importorskip("tensorflow")

J = np.linspace(-1, 4, 1001)
PRESET = PRESETS["cifar10"]


def test_numpy_rates_are_nengo_lifrate():
    neuron = SoftLIFRate(
        sigma=0.02,
        tau_rc=PRESET.tau_rc,
        tau_ref=PRESET.tau_ref,
        amplitude=0.063,
        hard_forward=True,
    )
    lif = nengo.LIFRate(tau_rc=PRESET.tau_rc, tau_ref=PRESET.tau_ref, amplitude=0.063)
    gain, bias = np.ones(1), np.zeros(1)
    assert np.allclose(
        neuron.rates(J, gain, bias), lif.rates(J, gain, bias), rtol=1e-12
    )
    out = np.zeros_like(J)
    neuron.step(0.001, J, out)
    assert np.allclose(out, lif.rates(J, gain, bias)[:, 0], rtol=1e-12)
    # soft by default: above the hard curve near the threshold
    soft = SoftLIFRate(sigma=0.02, tau_rc=PRESET.tau_rc, tau_ref=PRESET.tau_ref)
    assert soft.rates(np.array([1.0]), 1, 0)[0] > 1.0 > hard_lif_rates(1.0, 0.05, 0.001)


def test_tf_forward_is_hard_and_gradient_is_soft_float64():
    from nengo_softlif import dl  # noqa: PLC0415

    x = tf.constant(J, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = dl.surrogate_lif_rates_tf(x, 0.02, PRESET.tau_rc, PRESET.tau_ref)
    grad = tape.gradient(y, x).numpy()
    assert np.allclose(
        y.numpy(), hard_lif_rates(J, PRESET.tau_rc, PRESET.tau_ref), rtol=1e-12
    )
    assert np.allclose(
        grad, soft_lif_derivative(J, 0.02, PRESET.tau_rc, PRESET.tau_ref), rtol=1e-6
    )


def test_nengo_dl_and_keras_compute_the_hard_network():
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415
    from nengo_softlif.keras import keras_model  # noqa: PLC0415
    from nengo_softlif.network.architectures import build_network  # noqa: PLC0415
    from nengo_softlif.network.convert import to_hard_rate  # noqa: PLC0415

    from architectures import TINY  # noqa: PLC0415

    import_nengo_dl()
    rng = np.random.default_rng(0)
    net = build_network(
        TINY,
        PRESET.soft_lif(sigma=0.05).__class__(
            sigma=0.05,
            tau_rc=PRESET.tau_rc,
            tau_ref=PRESET.tau_ref,
            amplitude=PRESET.amplitude,
            hard_forward=True,
        ),
        PRESET,
        seed=1,
    )
    from nengo_softlif.network.checkpoint import get_params, set_params  # noqa: PLC0415

    params = get_params(net)
    params["output.weights"] = rng.normal(0, 0.5, params["output.weights"].shape)
    set_params(net, params)
    images = rng.uniform(0, 1, (6, 8 * 8 * 2)).astype(np.float32)
    labels = np.zeros(6, int)
    hard = evaluate(to_hard_rate(net), images, labels, backend="nengo").outputs
    for backend in ("nengo-dl", "nengo"):
        out = evaluate(net, images, labels, backend=backend).outputs
        assert np.allclose(out, hard, atol=1e-5 * np.abs(hard).max()), backend
    keras_out = keras_model(net)(images).numpy()
    assert np.allclose(keras_out, hard, atol=1e-5 * np.abs(hard).max())
