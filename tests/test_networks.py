"""Layers, architectures, conversion to spikes, checkpoints (nengo only, no TF)."""

import os

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS, GaussianNoise, SoftLIFRate
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    get_params,
    load_checkpoint,
    load_network,
    save_checkpoint,
    set_params,
)
from nengo_softlif.network.convert import to_hard_rate, to_spiking
from nengo_softlif.network.layers import (
    AvgPool,
    Conv,
    Dense,
    LocallyConnected,
    Output,
    window_indices,
)

from architectures import TINY  # shared tiny architecture (tests/architectures.py)


def test_paper_architectures_have_the_published_sizes():
    assert build_network("mnist").n_neurons == 27088
    assert build_network("cifar10", lif_params="cifar10").n_neurons == 49536


def test_avg_pool_clips_windows_at_the_far_edge():
    shape, rows, cols = window_indices((24, 24, 1), 3, 2, 0)
    assert shape == (12, 12, 1)
    counts = np.bincount(rows)
    assert counts.reshape(12, 12)[0, 0] == 9 and counts.reshape(12, 12)[-1, -1] == 4


def test_avg_pool_averages(rng):
    with nengo.Network() as net:
        inp = nengo.Node(rng.uniform(size=4 * 4 * 2))
        from nengo_softlif.network.layers import (
            LayerContext,
            build_layer,
        )  # noqa: PLC0415

        ctx = LayerContext(net, inp, (4, 4, 2), SoftLIFRate(), 1.0, 1.0, rng)
        built = build_layer(AvgPool(2), "pool", ctx)
        probe = nengo.Probe(built.output)
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(1)
    image = inp.output.reshape(4, 4, 2)
    expected = image.reshape(2, 2, 2, 2, 2).mean(axis=(1, 3))
    assert np.allclose(sim.data[probe][0], expected.ravel())


def test_locally_connected_matches_explicit_computation(rng):
    net = build_network(TINY, PRESETS["mnist"].soft_lif(), "mnist", seed=3)
    conn = net.layers["local1"].connection
    dense = conn.transform.sample()  # scipy sparse or ndarray
    dense = dense.toarray() if hasattr(dense, "toarray") else dense
    # each output neuron sees a 3x3 window of all 4 input channels (fewer at edges)
    per_row = (dense != 0).sum(axis=1)
    assert per_row.max() == 9 * 4 and per_row.min() == 4 * 4


def test_unsupported_layer_and_bad_padding_raise():
    with pytest.raises(TypeError, match="Unsupported layer"):
        Architecture("x", (4, 4, 1), ("conv", Output(2)))
    with pytest.raises(ValueError, match="padding"):
        build_network(Architecture("x", (8, 8, 1), (Conv(2, 5, padding=1), Output(2))))
    with pytest.raises(ValueError, match="Output"):
        Architecture("x", (8, 8, 1), (Conv(2, 3),))
    with pytest.raises(ValueError, match="Unknown architecture"):
        build_network("imagenet")


def test_to_spiking_converts_neurons_synapses_keeps_weights():
    neuron = PRESETS["cifar10"].soft_lif(noise=GaussianNoise(10))
    net = build_network(TINY, neuron, "cifar10", seed=1)
    spiking = to_spiking(net, synapse=nengo.Alpha(0.005))
    for name, ens in spiking.layer_ensembles.items():
        original = net.layer_ensembles[name]
        assert type(ens.neuron_type) is nengo.LIF
        for attr in ("tau_rc", "tau_ref", "amplitude"):
            assert getattr(ens.neuron_type, attr) == getattr(original.neuron_type, attr)
        assert np.array_equal(ens.gain, original.gain) and np.array_equal(
            ens.bias, original.bias
        )
        assert not hasattr(ens.neuron_type, "noise")
    before, after = get_params(net), get_params(spiking)
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    for conn in spiking.all_connections:
        if isinstance(conn.pre_obj, nengo.ensemble.Neurons):
            assert conn.synapse == nengo.Alpha(0.005)
        else:
            assert conn.synapse is None
    # the original is untouched
    assert all(isinstance(e.neuron_type, SoftLIFRate) for e in net.all_ensembles)
    assert all(c.synapse is None for c in net.all_connections)


def test_to_spiking_names_unsupported_neurons():
    net = build_network(TINY, nengo.Sigmoid(), "mnist")
    with pytest.raises(TypeError, match="conv1.*Sigmoid"):
        to_spiking(net)


def run_nengo(net, image, n_steps, dt=0.001):
    net.inp.output = image
    with nengo.Simulator(net, dt=dt, progress_bar=False, seed=0) as sim:
        sim.run_steps(n_steps)
    return sim.data[net.out_probe]


def random_readout(net, rng):
    """Give the (zero-initialised) read-out random weights."""
    params = get_params(net)
    params["output.weights"] = rng.normal(0, 0.3, params["output.weights"].shape)
    set_params(net, params)
    return net


@pytest.mark.parametrize(
    "arch, synapse",
    [
        # one hidden layer: the read-out is linear in the spikes, so the paper's
        # short synapse already gives the rate output on average
        (
            Architecture("one", (8, 8, 2), (Conv(4, 3, padding=1), Output(3))),
            nengo.Alpha(0.005),
        ),
        # deeper: filtered spikes are noisy inputs to the next nonlinearity, so the
        # mean matches the rate net only when the synapse smooths them enough
        (TINY, nengo.Alpha(0.05)),
    ],
)
def test_spiking_mean_matches_hard_rate_network(rng, arch, synapse):
    """Averaged over a long window, spikes give the hard-LIF rate network's output."""
    preset = PRESETS["cifar10"]
    net = random_readout(build_network(arch, preset.soft_lif(), preset, seed=2), rng)
    image = rng.uniform(0, 1, 8 * 8 * 2)
    rate_out = run_nengo(to_hard_rate(net), image, 1)[-1]
    spikes = run_nengo(to_spiking(net, synapse=synapse), image, 5000)
    spike_mean = spikes[1000:].mean(axis=0)
    rel = np.linalg.norm(spike_mean - rate_out) / np.linalg.norm(rate_out)
    assert rel < 0.05, rel
    # soft vs hard is a separate difference (the soft curve is above near threshold)
    soft_out = run_nengo(net, image, 1)[-1]
    assert np.linalg.norm(soft_out - rate_out) / np.linalg.norm(rate_out) > 1e-3


def test_short_synapse_spike_noise_shifts_deep_network_mean(rng):
    """The effect the training noise is for: measurable, and larger than above."""
    preset = PRESETS["cifar10"]
    net = random_readout(build_network(TINY, preset.soft_lif(), preset, seed=2), rng)
    image = rng.uniform(0, 1, 8 * 8 * 2)
    rate_out = run_nengo(to_hard_rate(net), image, 1)[-1]
    spikes = run_nengo(to_spiking(net, synapse=nengo.Alpha(0.005)), image, 3000)
    rel = np.linalg.norm(spikes[500:].mean(axis=0) - rate_out) / np.linalg.norm(
        rate_out
    )
    assert rel > 0.05


def test_checkpoint_round_trip_is_exact(tmp_path):
    net = build_network(
        TINY, PRESETS["mnist"].soft_lif(noise=GaussianNoise(20)), "mnist", seed=5
    )
    params = get_params(net)
    params["conv1.weights"] = params["conv1.weights"] * 1.5 + 0.25  # "trained"
    set_params(net, params)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net, epoch=7, history=[{"loss": 1.0}])
    loaded, meta = load_network(path)
    again = get_params(loaded)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert meta["state"]["epoch"] == 7 and meta["architecture"]["name"] == "tiny"
    assert loaded.neuron_type.noise == GaussianNoise(20)
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary files left


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    net = build_network(TINY, seed=0)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net, epoch=1)
    original = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, net, epoch=2)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ck.npz"]


def test_mismatched_and_corrupt_checkpoints_raise(tmp_path):
    net = build_network(TINY, seed=0)
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net)
    other = build_network(
        Architecture(
            "tiny",
            (8, 8, 2),
            (
                Conv(5, 3, padding=1),
                AvgPool(2),
                LocallyConnected(3, 3, padding=1),
                Dense(16),
                Output(3),
            ),
        ),
        seed=0,
    )
    params, _ = load_checkpoint(path)
    with pytest.raises(CheckpointError, match="conv1.*shape"):
        set_params(other, params)
    with pytest.raises(CheckpointError, match="missing"):
        set_params(build_network("mnist"), params)
    bad = dict(params, **{"fc1.bias": np.full(16, np.nan)})
    with pytest.raises(CheckpointError, match="NaN"):
        set_params(net, bad)
    (tmp_path / "broken.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "broken.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz")


def test_checkpoint_neuron_description_falls_back_to_the_lif_setting(tmp_path):
    """A description without LIF constants takes them from the neuron setting."""
    import json  # noqa: PLC0415

    net = build_network(TINY, PRESETS["cifar10"].soft_lif(), "cifar10")
    path = tmp_path / "ck.npz"
    save_checkpoint(path, net)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["neuron_type"] = {"type": "SoftLIFRate", "sigma": 0.02, "noise": "none"}
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    loaded, _ = load_network(path)
    assert loaded.neuron_type.amplitude == 0.063 and loaded.neuron_type.tau_rc == 0.05


class ScaledRectifiedLinear(nengo.RectifiedLinear):
    """A user's own rate neuron (for the checkpoint registry tests)."""


def test_a_registered_user_neuron_type_is_saved_and_loaded_back(tmp_path):
    from nengo_softlif.network.checkpoint import (
        load_network,
        save_checkpoint,
    )  # noqa: PLC0415
    from nengo_softlif.network.convert import (  # noqa: PLC0415
        SPIKING_EQUIVALENTS,
        register_spiking_equivalent,
    )

    register_spiking_equivalent(
        ScaledRectifiedLinear, lambda n: nengo.SpikingRectifiedLinear(n.amplitude)
    )
    try:
        net = build_network(TINY, ScaledRectifiedLinear(amplitude=0.5), "mnist", seed=1)
        path = tmp_path / "user.npz"
        save_checkpoint(path, net, epoch=1)
        loaded, _ = load_network(path)
        assert type(loaded.neuron_type) is ScaledRectifiedLinear
        assert loaded.neuron_type.amplitude == 0.5
        assert all(
            type(e.neuron_type) is ScaledRectifiedLinear for e in loaded.all_ensembles
        )
    finally:
        SPIKING_EQUIVALENTS.pop(ScaledRectifiedLinear)


def test_register_neuron_type_makes_a_type_loadable(tmp_path):
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        NEURON_TYPES,
        CheckpointError,
        load_network,
        register_neuron_type,
        save_checkpoint,
    )

    class OtherRate(nengo.RectifiedLinear):
        pass

    net = build_network(TINY, OtherRate(), "mnist", seed=1)
    save_checkpoint(tmp_path / "o.npz", net)
    with pytest.raises(CheckpointError, match="'OtherRate' is unknown"):
        load_network(tmp_path / "o.npz")
    register_neuron_type(OtherRate)
    try:
        assert type(load_network(tmp_path / "o.npz")[0].neuron_type) is OtherRate
    finally:
        NEURON_TYPES.pop("OtherRate")
