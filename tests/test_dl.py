"""The nengo-dl builder of SoftLIFRate and its training noise (imports TensorFlow)."""

import subprocess
import sys

import nengo
import numpy as np
import pytest

import nengo_softlif
from nengo_softlif import Compose, Dropout, GaussianNoise, SoftLIFRate
from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.neurons.softlif import soft_lif_derivative, soft_lif_rates

nengo_dl = import_nengo_dl()
tf = pytest.importorskip("tensorflow")

TAU_RC, TAU_REF, AMP = 0.05, 0.001, 0.063
N = 2000
J_VALUES = np.concatenate([np.linspace(-5, 5, N - 3), [-1e6, 1.0, 1e6]])


def current_network(neuron_type, n=N, dtype=None):
    """A network feeding input J straight into n neurons (gain 1, bias 0)."""
    with nengo.Network(seed=0) as net:
        if dtype is not None:
            nengo_dl.configure_settings(dtype=dtype)
        net.inp = nengo.Node(np.zeros(n))
        ens = nengo.Ensemble(
            n, 1, neuron_type=neuron_type, gain=np.ones(n), bias=np.zeros(n)
        )
        nengo.Connection(net.inp, ens.neurons, synapse=None)
        net.probe = nengo.Probe(ens.neurons)
    return net


def keras_outputs(sim, J, training, batch):
    """Run the simulator's Keras model once on currents J."""
    x = tf.constant(
        np.tile(J[None, None, :], (batch, 1, 1)), dtype=sim.tensor_graph.dtype
    )
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = sim.keras_model([x, np.ones((batch, 1), np.int32)], training=training)
        out = out[0] if isinstance(out, (list, tuple)) else out
        total = tf.reduce_sum(out)
    return out.numpy()[:, 0, :], tape.gradient(total, x).numpy()[:, 0, :]


def test_builder_registered_and_native():
    from nengo_dl.neuron_builders import SimNeuronsBuilder  # noqa: PLC0415

    from nengo_softlif.dl.neuron_builders import SoftLIFRateBuilder  # noqa: PLC0415

    assert SimNeuronsBuilder.TF_NEURON_IMPL[SoftLIFRate] is SoftLIFRateBuilder


def test_tf_output_and_gradient_match_numpy_float64():
    neuron = SoftLIFRate(sigma=0.02, tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP)
    net = current_network(neuron, dtype="float64")
    with nengo_dl.Simulator(net, minibatch_size=1, progress_bar=False) as sim:
        out, grad = keras_outputs(sim, J_VALUES, training=False, batch=1)
    expected = soft_lif_rates(J_VALUES, 0.02, TAU_RC, TAU_REF, AMP)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    assert np.allclose(out[0], expected, rtol=1e-6, atol=1e-12)
    assert np.allclose(
        grad[0],
        soft_lif_derivative(J_VALUES, 0.02, TAU_RC, TAU_REF, AMP),
        rtol=1e-6,
        atol=1e-12,
    )
    # the numpy step (nengo.Simulator) gives the same values
    step_out = np.zeros(N)
    neuron.step(0.001, J_VALUES, step_out)
    assert np.allclose(out[0], step_out, rtol=1e-6, atol=1e-12)


def test_gaussian_noise_statistics_training_only():
    std = 10.0
    J = np.concatenate([np.linspace(-2, 1, 500), np.linspace(1.5, 6, 1500)])
    neuron = SoftLIFRate(
        tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP, noise=GaussianNoise(std)
    )
    net = current_network(neuron)
    batch = 200
    with nengo_dl.Simulator(
        net, minibatch_size=batch, progress_bar=False, seed=1
    ) as sim:
        clean, clean_grad = keras_outputs(sim, J, training=False, batch=batch)
        noisy, noisy_grad = keras_outputs(sim, J, training=True, batch=batch)
    expected = soft_lif_rates(J, 0.02, TAU_RC, TAU_REF, AMP)
    # inference: exactly the clean output, the same for every batch item
    assert np.allclose(clean, expected[None, :], rtol=1e-5)
    diff = noisy - clean
    active = J > 1
    assert np.all(diff[:, ~active] == 0)
    assert np.all(noisy >= 0)
    # where rates are far above 0 (> 5 std) the clip never acts: N(0, std * AMP)
    far = expected / AMP > 5 * std
    sample = diff[:, far].ravel()
    n = sample.size  # 200 * ~1400 samples: standard error of the std ~ 0.2%
    assert abs(sample.mean()) < 5 * std * AMP / np.sqrt(n)
    assert abs(sample.std() / (std * AMP) - 1) < 0.02
    # straight-through: the gradient is the clean derivative
    assert np.allclose(noisy_grad, clean_grad, rtol=1e-5)


def test_dropout_and_composition_in_training():
    neuron = SoftLIFRate(
        tau_rc=TAU_RC,
        tau_ref=TAU_REF,
        amplitude=AMP,
        noise=Compose(GaussianNoise(0), Dropout(0.5)),
    )
    J = np.linspace(2, 5, 1000)
    with nengo_dl.Simulator(
        current_network(neuron, n=1000), minibatch_size=50, progress_bar=False
    ) as sim:
        clean, _ = keras_outputs(sim, J, training=False, batch=50)
        noisy, grad = keras_outputs(sim, J, training=True, batch=50)
    dropped = noisy == 0
    assert 0.45 < dropped.mean() < 0.55
    assert np.allclose(noisy[~dropped], 2 * clean[~dropped], rtol=1e-5)
    assert np.all(grad[dropped] == 0)  # dropout's gradient goes through its mask


def test_mixed_noise_groups_merge_correctly():
    """Ensembles with and without noise share one merged builder."""
    n = 500
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(n))
        quiet = nengo.Ensemble(
            n, 1, neuron_type=SoftLIFRate(), gain=np.ones(n), bias=np.zeros(n)
        )
        loud = nengo.Ensemble(
            n,
            1,
            neuron_type=SoftLIFRate(noise=GaussianNoise(20)),
            gain=np.ones(n),
            bias=np.zeros(n),
        )
        nengo.Connection(inp, quiet.neurons, synapse=None)
        nengo.Connection(inp, loud.neurons, synapse=None)
        nengo.Probe(quiet.neurons)
        nengo.Probe(loud.neurons)
    J = np.full(n, 3.0)
    with nengo_dl.Simulator(net, minibatch_size=20, progress_bar=False) as sim:
        x = tf.constant(np.tile(J[None, None, :], (20, 1, 1)), dtype=tf.float32)
        outs = sim.keras_model([x, np.ones((20, 1), np.int32)], training=True)
    quiet_out, loud_out = (o.numpy() for o in outs[:2])
    assert np.ptp(quiet_out) < 1e-4  # no noise
    assert np.std(loud_out) / 20 > 0.8  # std 20 Hz (before amplitude 1)


def test_small_network_trains_with_noise(rng):
    """conv -> SoftLIFRate + noise -> dense: the loss goes down under sim.fit."""
    n_images, shape = 200, (8, 8, 1)
    labels = rng.integers(0, 2, n_images)
    images = rng.normal(0, 0.3, (n_images, *shape))
    images[labels == 1, :, :4] += 1.0  # class 1: bright left half
    neuron = SoftLIFRate(
        tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP, noise=GaussianNoise(10)
    )
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(64))
        conv = nengo.Convolution(
            4, shape, kernel_size=(3, 3), init=nengo.dists.Uniform(-0.3, 0.3)
        )
        ens = nengo.Ensemble(
            conv.size_out,
            1,
            neuron_type=neuron,
            gain=np.full(conv.size_out, 0.8),
            bias=np.ones(conv.size_out),
        )
        nengo.Connection(inp, ens.neurons, transform=conv, synapse=None)
        out = nengo.Node(size_in=2)
        nengo.Connection(
            ens.neurons, out, transform=np.zeros((2, conv.size_out)), synapse=None
        )
        probe = nengo.Probe(out)
    with nengo_dl.Simulator(net, minibatch_size=50, progress_bar=False, seed=0) as sim:
        loss = tf.losses.SparseCategoricalCrossentropy(from_logits=True)
        sim.compile(optimizer=tf.optimizers.Adam(0.01), loss={probe: loss})
        x, y = {inp: images.reshape(n_images, 1, -1)}, {probe: labels[:, None, None]}
        before = sim.evaluate(x, y, verbose=0)["loss"]
        sim.fit(x, y, epochs=10, verbose=0)
        after = sim.evaluate(x, y, verbose=0)["loss"]
    assert after < 0.5 * before


def test_import_and_nengo_run_never_import_tensorflow():
    code = (
        "import sys, nengo, numpy as np, nengo_softlif\n"
        "with nengo.Network() as net:\n"
        "    e = nengo.Ensemble(5, 1, neuron_type=nengo_softlif.SoftLIFRate("
        "noise=nengo_softlif.GaussianNoise(10)))\n"
        "with nengo.Simulator(net, progress_bar=False) as sim:\n"
        "    sim.run_steps(2)\n"
        "import nengo_softlif.network.architectures, nengo_softlif.network.convert, nengo_softlif.evaluation.runner\n"
        "import nengo_softlif.network.checkpoint, nengo_softlif.training.loop, nengo_softlif.experiments.tasks\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'nengo_dl' not in sys.modules, 'nengo_dl imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_builders_register_when_nengo_dl_is_imported_first_or_later():
    code = (
        "import nengo_softlif, sys\n"
        "assert 'nengo_dl' not in sys.modules\n"
        "import nengo_dl\n"  # plain import, after nengo_softlif: aliases + hook
        "from nengo_dl.neuron_builders import SimNeuronsBuilder\n"
        "assert nengo_softlif.SoftLIFRate in SimNeuronsBuilder.TF_NEURON_IMPL\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "module", ["nengo_softlif.dl", "nengo_softlif.dl.lif_rates", "nengo_softlif.keras"]
)
def test_each_tensorflow_module_imports_first_in_a_fresh_process(module):
    code = (
        f"import {module}\n"
        "from nengo_dl.neuron_builders import SimNeuronsBuilder\n"
        "from nengo_softlif import SoftLIFRate\n"
        "assert SoftLIFRate in SimNeuronsBuilder.TF_NEURON_IMPL\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_version_is_exposed():
    assert isinstance(nengo_softlif.__version__, str)


def test_works_in_nengo_dl_layer():
    neuron = SoftLIFRate(tau_rc=TAU_RC, tau_ref=TAU_REF, amplitude=AMP)
    J = np.linspace(0, 3, 10)
    with nengo.Network(seed=0) as net:
        inp = nengo.Node(np.zeros(10))
        layer = nengo_dl.Layer(neuron)(inp)
        probe = nengo.Probe(layer)
    with nengo_dl.Simulator(net, progress_bar=False) as sim:
        out = sim.predict({inp: J[None, None, :]})[probe]
        built = sim.data[layer.ensemble]
    # the layer's neurons get input J directly: rate = r(gain * J + bias)
    expected = soft_lif_rates(built.gain * J + built.bias, 0.02, TAU_RC, TAU_REF, AMP)
    assert np.allclose(out[0, 0], expected, rtol=1e-5)


def test_max_pool_network_copies_and_evaluates_statically(rng):
    """nengo-dl's TensorNode (max pooling) survives Network.copy (compat fix)."""
    from nengo_softlif.evaluation.runner import evaluate, layer_fan_out  # noqa: PLC0415
    from nengo_softlif.network.architectures import (
        Architecture,
        build_network,
    )  # noqa: PLC0415
    from nengo_softlif.network.layers import Conv, MaxPool, Output  # noqa: PLC0415

    arch = Architecture(
        "tiny-max", (6, 6, 1), (Conv(2, 3, padding=1), MaxPool(3, 2), Output(3))
    )
    net = build_network(arch, neuron_type=nengo_softlif.RectifiedLinear())
    copied = net.copy()
    (node,) = [n for n in copied.all_nodes if isinstance(n, nengo_dl.TensorNode)]
    assert node.size_in == 6 * 6 * 2 and node.size_out == 3 * 3 * 2
    assert set(layer_fan_out(arch)) == {"conv1"}
    images, labels = rng.uniform(size=(4, 36)), np.arange(4) % 3
    result = evaluate(net, images, labels, backend="nengo-dl", minibatch_size=2)
    assert 0.0 <= result.error <= 1.0


@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_closed_form_gradients_match_automatic_differentiation(dtype):
    """Soft and hard-forward gradients: autodiff of the soft formula, or better."""
    from nengo_softlif.dl import lif_rates  # noqa: PLC0415

    def formula(J, sigma):  # the rates as written, differentiated by TensorFlow
        x = (J - 1.0) / sigma
        safe = tf.maximum(x, lif_rates._ASYMPTOTIC_X)
        log_softplus = tf.where(
            x > lif_rates._ASYMPTOTIC_X, tf.math.log(tf.nn.softplus(safe)), x
        )
        log_rho = tf.math.log(sigma) + log_softplus
        log_term = tf.math.log1p(tf.exp(log_rho)) - log_rho
        return 1.0 / (TAU_REF + TAU_RC * log_term)

    J = tf.constant(np.concatenate([J_VALUES, [0.4, 0.3999, 1.0000001]]), dtype)
    sigma = tf.constant([[0.02]], dtype) * tf.ones((1, J.shape[0]), dtype)
    grads = {}
    for name, f in {
        "autodiff": lambda v: formula(v, sigma),
        "soft": lambda v: lif_rates.soft_lif_rates_tf(v, sigma, TAU_RC, TAU_REF),
        "hard fast path": lambda v: lif_rates.surrogate_lif_rates_tf(
            v, sigma, TAU_RC, TAU_REF
        ),
        "hard per-neuron mask": lambda v: lif_rates.surrogate_lif_rates_tf(
            v, sigma, TAU_RC, TAU_REF, hard=tf.ones_like(v)
        ),
    }.items():
        with tf.GradientTape() as tape:
            tape.watch(J)
            y = f(J[None, :])
        grads[name] = tape.gradient(y, J).numpy()
        assert np.all(np.isfinite(grads[name])), name
    # float64: autodiff's values; float32: closer to the float64 derivative
    # than autodiff's (1.6% off at J = 1e6)
    exact = soft_lif_derivative(J.numpy().astype(np.float64), 0.02, TAU_RC, TAU_REF)
    for name, grad in grads.items():
        if dtype == tf.float64:
            assert np.allclose(grad, grads["autodiff"], rtol=1e-10, atol=0), name
        elif name != "autodiff":
            assert np.allclose(grad, exact, rtol=1e-5, atol=0), name
    hard = lif_rates.hard_lif_rates_tf(J, TAU_RC, TAU_REF).numpy()
    assert np.array_equal(
        lif_rates.surrogate_lif_rates_tf(J, 0.02, TAU_RC, TAU_REF).numpy(), hard
    )
