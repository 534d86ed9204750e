"""The chip's changes as network edits, and the neuron types the fast backend runs.

Each chip change (`nengo_softlif.backends.loihi.changes`) gives a nengo network;
the fast backend must run it spike for spike as nengo's reference simulator
does (float64, one stream), and all changes together must behave as
nengo-loihi's emulator.
"""

import nengo
import numpy as np
import pytest

from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.architectures import Architecture
from nengo_softlif.network.convert import copy_network
from nengo_softlif.network.layers import AvgPool, Conv, Dense, Output

from spiking_helpers import images_for, spiking_network

#: An overlapping pool with clipped windows at the edges, as CIFAR-10's.
OVERLAP = Architecture(
    "overlap", (8, 8, 1), (Conv(4, 3, padding=1), AvgPool(3, 2), Dense(32), Output(3))
)
PROTOCOL = Protocol(presentation_time=0.1, t_start=0.05, t_end=0.1)


@pytest.fixture(scope="module")
def loihi():
    """The nengo_softlif.backends.loihi module (skips without nengo-loihi)."""
    pytest.importorskip("nengo_loihi")
    from nengo_softlif.backends import loihi as module  # noqa: PLC0415

    return module


@pytest.fixture(scope="module")
def net_and_images():
    net = spiking_network(OVERLAP)
    images, labels = images_for(OVERLAP, 5, np.random.default_rng(1))
    return net, images, labels


def _same_on_fast_and_nengo(net, images, labels):
    fast = evaluate(
        net, images, labels, PROTOCOL, backend="fast", dtype="float64", minibatch_size=1
    )
    ref = evaluate(net, images, labels, PROTOCOL, backend="nengo")
    np.testing.assert_allclose(fast.outputs, ref.outputs, rtol=1e-9, atol=1e-9)
    assert fast.layer_rates == pytest.approx(ref.layer_rates, rel=1e-9)
    return fast


def test_spiking_rectified_linear_on_fast_backend(net_and_images):
    """nengo.SpikingRectifiedLinear spike for spike, several spikes a step too."""
    net, images, labels = net_and_images
    net = copy_network(net)
    conv1 = net.layer_ensembles["conv1"]
    conv1.neuron_type = nengo.SpikingRectifiedLinear(amplitude=0.001)
    conv1.gain = np.full(conv1.n_neurons, 3000.0)  # up to 3 spikes in a step
    conv1.bias = np.zeros(conv1.n_neurons)
    fast = _same_on_fast_and_nengo(net, images, labels)
    counts = {}
    evaluate(net, images, labels, PROTOCOL, backend="fast", spike_counts=counts)
    assert counts["conv1"].max() > 2 * PROTOCOL.n_steps  # more than 2 a step
    mean_rate = counts["conv1"].mean() / PROTOCOL.presentation_time
    assert mean_rate == pytest.approx(fast.layer_rates["conv1"], rel=0.01)


@pytest.mark.loihi
@pytest.mark.parametrize(
    "changes", [(), ("pools",), ("neurons",), ("input",), ("synapses",), ("weights",)]
)
def test_each_change_runs_on_fast_as_on_nengo(loihi, net_and_images, changes):
    net, images, labels = net_and_images
    changed = loihi.apply_chip_changes(net, changes, images=images, protocol=PROTOCOL)
    assert changed.chip_changes == changes
    _same_on_fast_and_nengo(changed, images, labels)


@pytest.mark.loihi
@pytest.mark.parametrize("relays", [False, True])
def test_chip_model_behaves_as_emulator(loihi, net_and_images, relays):
    net, images, labels = net_and_images
    model = loihi.apply_chip_changes(
        net, loihi.CHIP_CHANGES, images=images, protocol=PROTOCOL, pool_relays=relays
    )
    fast = _same_on_fast_and_nengo(model, images, labels)
    emulator = evaluate(
        net, images, labels, PROTOCOL, backend="loihi", pool_relays=relays
    )
    exact = evaluate(net, images, labels, PROTOCOL, backend="nengo")
    for name, rate in emulator.layer_rates.items():
        # the chip model's rates are the emulator's; the exact ones differ more
        assert fast.layer_rates[name] == pytest.approx(rate, rel=0.02), name
    assert any(
        abs(exact.layer_rates[n] - r) > 0.02 * r
        for n, r in emulator.layer_rates.items()
    )


@pytest.mark.loihi
def test_weights_change_rounds_to_8_bits(loihi, net_and_images):
    from nengo_softlif.backends.loihi.changes import (  # noqa: PLC0415
        quantised_weights,
        weight_quantisation,
    )

    rng = np.random.default_rng(0)
    w = rng.normal(size=(5, 7))
    q = quantised_weights(nengo.Dense(w.shape, init=w)).init
    levels = np.unique(np.round(q / (np.abs(w).max() / 127)))
    assert len(levels) <= 255 and np.abs(levels).max() == 127
    assert np.abs(q - w).max() <= np.abs(w).max() / 254 + 1e-12
    errors = weight_quantisation(net_and_images[0])
    assert set(errors) == {"conv1", "fc1"}
    assert all(0 < e["rms_change"] < 0.02 for e in errors.values())
    assert all(e["zeroed"] < 0.05 for e in errors.values())


@pytest.mark.loihi
def test_unknown_change_is_named(loihi, net_and_images):
    with pytest.raises(ValueError, match=r"Unknown chip change.*'pool'.*'pools'"):
        loihi.apply_chip_changes(net_and_images[0], ["pool"])


def test_unregistered_neuron_type_names_the_registry():
    with nengo.Network() as net:
        net.inp = nengo.Node(size_in=2)
        ens = nengo.Ensemble(
            2, 1, neuron_type=nengo.Izhikevich(), gain=[1, 1], bias=[0, 0]
        )
        nengo.Connection(net.inp, ens.neurons, synapse=None)
    from nengo_softlif.backends.fast import compile_network  # noqa: PLC0415

    with pytest.raises(TypeError, match="Izhikevich.*register_neuron_layer"):
        compile_network(net, [])


@pytest.mark.loihi
def test_auto_pool_choice_measures_every_combination(loihi, net_and_images):
    net, images, _ = net_and_images
    assert loihi.counter_sizes(net, "pool1") == [9]  # clipped windows of 9, 6, 4
    choice = loihi.choose_pools(net, images, PROTOCOL)
    assert set(choice.measured) == {(("pool1", "relay"),), (("pool1", 9),)}
    best = (("pool1", "relay"),) if choice.relays else (("pool1", 9),)
    assert choice.measured[best] == min(choice.measured.values())
    with pytest.raises(ValueError, match="choose_pools"):
        loihi.to_loihi(net, pool_relays="auto")
    chip = loihi.apply_chip_changes(
        net, ["pools"], images=images, protocol=PROTOCOL, pool_relays="auto"
    )
    assert chip.chip_changes == ("pools",)


@pytest.mark.loihi
def test_padded_pools_count_any_number_of_spikes(loihi):
    """Padded windows: counters of k spikes and relays average exactly."""
    net = spiking_network(OVERLAP.with_pool_edges("padded"))
    assert loihi.counter_sizes(net, "pool1") == list(range(1, 10))
    images, _ = images_for(OVERLAP, 2, np.random.default_rng(2))
    choice = loihi.choose_pools(net, images, PROTOCOL)
    assert {dict(key)["pool1"] for key in choice.measured} == {"relay", 2, 3, 9}
    plan = loihi.to_loihi(net, pool_spikes={"pool1": 3}).loihi_plan
    assert plan.pool_spikes == {"pool1": 3}
    with pytest.raises(ValueError, match="pool_spikes=4.*pool_spikes=9"):
        loihi.to_loihi(spiking_network(OVERLAP), pool_spikes={"pool1": 4})


@pytest.mark.loihi
@pytest.mark.parametrize("spikes", [1, 3, 9])
def test_padded_pool_counters_keep_the_mean(loihi, spikes):
    """A counter of k spikes passes on the padded window's sum of its inputs'
    spikes / k, up to the count left over at the end (< k per window); relays
    (k = 1) lose the spikes of a window that coincide in a step, never more."""
    net = spiking_network(OVERLAP.with_pool_edges("padded"))
    images, labels = images_for(OVERLAP, 3, np.random.default_rng(3))
    chip = loihi.apply_chip_changes(net, ["pools"], pool_spikes={"pool1": spikes})
    counts = {}
    evaluate(chip, images, labels, PROTOCOL, backend="fast", spike_counts=counts)
    transform = net.layers["pool1"].connection.transform
    rows, cols = transform.indices.T
    expected = np.zeros((len(images), transform.size_out))
    for i in range(len(images)):
        np.add.at(expected[i], rows, counts["conv1"][i][cols])
    got = counts["pool1"] * spikes
    if spikes == 1:
        assert np.all(got <= expected)
        assert got.sum() < expected.sum()  # these inputs fire together at times
        return
    # up to k - 1 input spikes per window are still being counted at the end
    # (and were carried in from the image before); spikes that overshoot the
    # count in the step it fires are lost
    assert np.all(np.abs(got - expected) <= 2 * spikes + expected * 0.05)
