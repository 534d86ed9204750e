"""Training for the chip: Loihi's LIF rate as the hard forward pass (``loihi_dt``)."""

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS
from nengo_softlif.neurons.softlif import hard_lif_rates, soft_lif_derivative
from nengo_softlif.neurons.spike_statistics import loihi_lif_rates

J = np.concatenate([np.linspace(-1, 40, 4001), np.geomspace(40, 1000, 500)])


@pytest.mark.parametrize("preset", ["cifar10", "mnist"])
@pytest.mark.parametrize("dt", [0.001, 0.0005])
def test_rates_are_nengo_loihis(preset, dt):
    neurons = pytest.importorskip("nengo_loihi.neurons")
    p = PRESETS[preset]
    lif = nengo.LIF(tau_rc=p.tau_rc, tau_ref=p.tau_ref, amplitude=p.amplitude)
    theirs = neurons.loihi_rates(lif, J, np.ones(1), np.zeros(1), dt).ravel()
    ours = loihi_lif_rates(J, p.tau_rc, p.tau_ref, dt, p.amplitude)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    # whole steps: a spike every k steps, slower than nengo's LIF by up to a half
    hard = hard_lif_rates(J, p.tau_rc, p.tau_ref, p.amplitude)
    on = hard > 0
    steps = p.amplitude / (dt * ours[on])
    np.testing.assert_allclose(steps, np.round(steps), rtol=1e-9)
    assert np.all(ours[on] > 0.49 * hard[on]) and np.all(ours[on] < 1.01 * hard[on])
    assert np.mean(ours[on] / hard[on]) < 0.95


def test_the_neuron_type_computes_them_and_needs_hard_forward():
    p = PRESETS["cifar10"]
    neuron = p.soft_lif(hard_forward=True, loihi_dt=0.001)
    expected = loihi_lif_rates(J, p.tau_rc, p.tau_ref, 0.001, p.amplitude)
    np.testing.assert_allclose(neuron.rates(J, 1.0, 0.0).ravel(), expected)
    out = np.zeros_like(J)
    neuron.step(0.001, J, out)
    np.testing.assert_allclose(out, expected)
    with pytest.raises(ValueError, match="hard_forward=True"):
        p.soft_lif(loihi_dt=0.001)
    with pytest.raises(nengo.exceptions.ValidationError, match="loihi_dt"):
        p.soft_lif(hard_forward=True, loihi_dt=0.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tf_forward_is_loihis_and_gradient_is_soft(dtype):
    tf = pytest.importorskip("tensorflow")
    from nengo_softlif import dl  # noqa: PLC0415

    p = PRESETS["cifar10"]
    x = tf.constant(J, dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = dl.surrogate_lif_rates_tf(
            x,
            0.02,
            p.tau_rc,
            p.tau_ref,
            loihi=dl.loihi_forward_constants(
                [p.soft_lif(hard_forward=True, loihi_dt=5e-4)], [1]
            ),
        )
    grad = tape.gradient(y, x).numpy()
    J_seen = x.numpy().astype(float)
    expected = loihi_lif_rates(J_seen, p.tau_rc, p.tau_ref, 0.0005)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    soft = soft_lif_derivative(J_seen, 0.02, p.tau_rc, p.tau_ref)
    np.testing.assert_allclose(grad, soft, rtol=1e-4, atol=1e-6 * soft.max())


def test_nengo_dl_merges_loihi_and_nengo_forward_passes():
    """Two ensembles, one with loihi_dt, one without: nengo-dl merges their ops
    into one group and must still compute each one's rates (as nengo does)."""
    pytest.importorskip("tensorflow")
    from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

    nengo_dl = import_nengo_dl()
    p = PRESETS["cifar10"]
    currents = np.linspace(0.5, 30, 50)
    with nengo.Network(seed=0) as net:
        stim = nengo.Node(currents)
        probes = []
        for loihi_dt in (0.0005, None):
            ens = nengo.Ensemble(
                50,
                1,
                neuron_type=p.soft_lif(hard_forward=True, loihi_dt=loihi_dt),
                gain=np.ones(50),
                bias=np.zeros(50),
            )
            nengo.Connection(stim, ens.neurons, synapse=None)
            probes.append(nengo.Probe(ens.neurons))
    with nengo_dl.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(1)
        got = [sim.data[probe].reshape(-1, 50)[0] for probe in probes]
    loihi = loihi_lif_rates(currents, p.tau_rc, p.tau_ref, 0.0005, p.amplitude)
    np.testing.assert_allclose(got[0], loihi, rtol=1e-5)
    hard = hard_lif_rates(currents, p.tau_rc, p.tau_ref, p.amplitude)
    np.testing.assert_allclose(got[1], hard, rtol=1e-5)
    assert not np.allclose(got[0], got[1])


def test_keras_layer_and_checkpoint_keep_it(tmp_path):
    pytest.importorskip("tensorflow")
    from nengo_softlif.keras import SoftLIF, keras_model  # noqa: PLC0415
    from nengo_softlif.network.architectures import build_network  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        load_network,
        save_checkpoint,
    )

    from architectures import TINY  # noqa: PLC0415

    layer = SoftLIF.from_preset("cifar10", loihi_dt=0.0005)
    again = SoftLIF.from_config(layer.get_config())
    assert again.loihi_dt == 0.0005 and again.nengo_neuron_type(None).loihi_dt == 0.0005
    with pytest.raises(ValueError, match="keep hard_forward=True"):
        SoftLIF.from_preset("cifar10", loihi_dt=0.0005, hard_forward=False)
    p = PRESETS["cifar10"]
    net = build_network(TINY, p.soft_lif(hard_forward=True, loihi_dt=0.0005), p)
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, net)
    loaded, _ = load_network(path)
    assert loaded.neuron_type.loihi_dt == 0.0005
    neurons = [n for n in keras_model(loaded).layers if isinstance(n, SoftLIF)]
    assert neurons and all(n.loihi_dt == 0.0005 for n in neurons)


def test_cli_trains_for_the_chip(capsys, tmp_path):
    from nengo_softlif.network.checkpoint import load_checkpoint  # noqa: PLC0415

    from cli_helpers import run  # noqa: PLC0415

    out = tmp_path / "run"
    argv = ["train", "--task", "mnist-sample", "--train-images", "100", "--quiet"]
    argv += ["--out", str(out), "--epochs", "1", "--minibatch-size", "50"]
    code, _, err = run(capsys, *argv, "--loihi-dt", "0.0005", "--no-hard-forward")
    assert code == 2 and "drop --no-hard-forward" in err
    assert not out.exists()
    code, _, err = run(capsys, *argv, "--loihi-dt", "0")
    assert code == 2 and "--loihi-dt" in err
    code, _, err = run(capsys, *argv, "--loihi-dt", "0.0005")
    assert code == 0, err
    _, meta = load_checkpoint(out / "checkpoint.npz")
    assert meta["neuron_type"]["loihi_dt"] == 0.0005
    report = (out / "report.md").read_text()
    assert "Loihi's LIF at 0.5 ms" in report
