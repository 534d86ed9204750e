"""Networks that are small graphs: merges (Add, Concatenate), skips, linear layers."""

import json

import nengo
import numpy as np
import pytest

from nengo_softlif.evaluation.metrics import layer_fan_out, rate_flops
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import (
    get_params,
    load_checkpoint,
    load_network,
    save_checkpoint,
    set_params,
)
from nengo_softlif.network.convert import to_spiking
from nengo_softlif.network.layers import AvgPool, Conv, Dense, Output
from nengo_softlif.network.merges import Add, Concatenate
from nengo_softlif.neurons.softlif import LIFParams, RectifiedLinear
from nengo_softlif.pretrained import pretrained_path

from architectures import TINY

PROTOCOL = Protocol(presentation_time=0.04, t_start=0.02, t_end=0.04)

#: A residual block, a projected skip from the input and a concatenation.
GRAPH = Architecture(
    "graph",
    (8, 8, 2),
    (
        Conv(4, 3, padding=1, name="a"),
        Conv(4, 3, padding=1, neurons=False, name="b"),
        Add(("b", "a"), neurons=True, name="block"),
        Conv(2, 1, neurons=False, inputs=("input",), name="proj"),
        Concatenate(("block", "proj")),
        AvgPool(2),
        Dense(8),
        Output(3),
    ),
)


def _randomised(net, seed=1):
    """``net`` with random read-out and linear biases (zero when built)."""
    params = get_params(net)
    rng = np.random.default_rng(seed)
    for key, value in params.items():
        if key.startswith("output.") or (key.endswith(".bias") and value.ndim == 2):
            params[key] = rng.uniform(-0.3, 0.3, size=value.shape)
    set_params(net, params)
    return net


def _images(n, shape=(8, 8, 2), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, int(np.prod(shape)))), rng.integers(0, 3, n)


def test_graph_description_round_trips_and_chains_are_written_as_before():
    data = GRAPH.to_dict()
    assert Architecture.from_dict(json.loads(json.dumps(data))) == GRAPH
    assert GRAPH.layer_inputs()[2] == ("b", "a")
    assert GRAPH.layer_inputs()[3] == ("input",)
    assert not GRAPH.is_chain() and TINY.is_chain()
    for layer in TINY.to_dict()["layers"]:
        assert "inputs" not in layer and "neurons" not in layer
    assert data["layers"][1]["neurons"] is False
    assert data["layers"][4]["inputs"] == ["block", "proj"]


def test_merges_sum_and_concatenate_as_numpy():
    """The static network computes the merges as numpy does."""
    arch = Architecture(
        "merge",
        (2, 2, 3),
        (
            Conv(2, 1, neurons=False, name="p"),
            Conv(3, 1, neurons=False, inputs=("input",), name="q"),
            Add(("q", "input")),
            Concatenate(("p", "add1")),
            Output(2),
        ),
    )
    net = _randomised(build_network(arch))
    params = get_params(net)
    x, _ = _images(2, (2, 2, 3))
    p = x.reshape(2, 4, 3) @ params["p.weights"].reshape(3, 2)
    p += params["p.bias"].reshape(4, 2)
    q = x.reshape(2, 4, 3) @ params["q.weights"].reshape(3, 3)
    q += params["q.bias"].reshape(4, 3)
    joined = np.concatenate([p, q + x.reshape(2, 4, 3)], axis=2).reshape(2, -1)
    expected = joined @ params["output.weights"].T + params["output.bias"].T
    for image, scores in zip(x, expected, strict=True):
        net.inp.output = image
        with nengo.Simulator(net, progress_bar=False) as sim:
            sim.step()
        np.testing.assert_allclose(sim.data[net.out_probe][0], scores, rtol=1e-9)


def test_graph_spikes_alike_on_fast_and_nengo():
    """float64 fast reproduces nengo's reference simulator spike for spike."""
    net = to_spiking(_randomised(build_network(GRAPH, lif_params="cifar10")))
    images, labels = _images(3)
    reference = evaluate(net, images, labels, PROTOCOL, backend="nengo")
    fast = evaluate(
        net, images, labels, PROTOCOL, backend="fast", minibatch_size=1, dtype="float64"
    )
    assert min(reference.layer_rates.values()) > 1, "test network should spike"
    np.testing.assert_allclose(fast.outputs, reference.outputs, rtol=1e-9, atol=1e-9)
    assert fast.layer_rates == pytest.approx(reference.layer_rates, rel=1e-9)
    assert fast.synaptic_events_per_image == pytest.approx(
        reference.synaptic_events_per_image, rel=1e-9
    )


def test_spiking_relu_graph_on_fast_matches_nengo():
    """Swapped-relu networks spike with SpikingRectifiedLinear on the fast backend."""
    lif = LIFParams(0.02, 0.002, 0.01, 100.0, 0.0)
    net = build_network(GRAPH, RectifiedLinear(amplitude=0.01), lif)
    spiking = to_spiking(_randomised(net))
    assert type(spiking.layers["block"].ensemble.neuron_type).__name__ == (
        "SpikingRectifiedLinear"
    )
    images, labels = _images(2)
    reference = evaluate(spiking, images, labels, PROTOCOL, backend="nengo")
    fast = evaluate(
        spiking,
        images,
        labels,
        PROTOCOL,
        backend="fast",
        minibatch_size=1,
        dtype="float64",
    )
    assert min(reference.layer_rates.values()) > 1, "test network should spike"
    np.testing.assert_allclose(fast.outputs, reference.outputs, rtol=1e-9, atol=1e-9)


def test_graph_runs_on_nengo_dl_static_and_spiking():
    net = _randomised(build_network(GRAPH, lif_params="cifar10"))
    images, labels = _images(3)
    static = evaluate(net, images, labels, backend="nengo")
    dl = evaluate(net, images, labels, backend="nengo-dl")
    np.testing.assert_allclose(dl.outputs, static.outputs, rtol=1e-5, atol=1e-5)
    spiking = evaluate(to_spiking(net), images, labels, PROTOCOL, backend="nengo-dl")
    assert spiking.outputs.shape == (3, 3)
    assert min(spiking.layer_rates.values()) > 1


def test_graph_checkpoint_round_trip(tmp_path):
    net = _randomised(build_network(GRAPH, lif_params="cifar10", seed=3))
    path = tmp_path / "graph.npz"
    save_checkpoint(path, net, epoch=1)
    loaded, meta = load_network(path)
    assert loaded.architecture == GRAPH
    assert meta["architecture"] == GRAPH.to_dict()
    saved, again = get_params(net), get_params(loaded)
    assert saved.keys() == again.keys()
    for key, value in saved.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def test_chain_checkpoints_written_before_still_load():
    """The shipped network's header (written before graphs) reads and rewrites
    to the same description, so its training resumes."""
    _, meta = load_checkpoint(pretrained_path("cifar10"))
    architecture = Architecture.from_dict(meta["architecture"])
    assert architecture.is_chain()
    assert architecture.to_dict() == meta["architecture"]
    net, _ = load_network(pretrained_path("cifar10"))
    assert net.n_neurons > 0


def test_fan_out_and_flops_follow_the_graph():
    fan = layer_fan_out(GRAPH)
    # a neuron of "a" reaches 3x3x4 inputs of "b" (inside the image) and 1 of "block"
    assert fan["a"].reshape(8, 8, 4)[4, 4, 0] == 9 * 4 + 1
    # "block" reaches the Dense layer through the concatenation and the pooling
    assert set(fan["block"]) == {8}
    assert rate_flops(GRAPH) > rate_flops(
        Architecture("chain", (8, 8, 2), GRAPH.layers[:1] + (Output(3),))
    )


@pytest.mark.parametrize(
    "layers, words",
    [
        (
            (Conv(4, 3, name="a"), Add(("a", "nope")), Output(3)),
            ["layer 'add1' reads ['nope']", "not earlier layers"],
        ),
        (
            (Conv(4, 3, name="a"), Conv(4, 3, inputs=("input",)), Output(3)),
            ["output of layer(s) ['a'] is read by no later layer"],
        ),
        (
            (Conv(4, 3, name="input"), Output(3)),
            ["layers named ['input']", "not 'input'"],
        ),
        (
            (Conv(4, 3, name="a"), Dense(4, inputs=("a", "input")), Output(3)),
            ["reads 2 layers", "merge them first with an Add or Concatenate"],
        ),
    ],
)
def test_bad_graphs_are_refused_by_name(layers, words):
    with pytest.raises(ValueError) as info:
        Architecture("bad", (8, 8, 2), layers)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Add(("a",)), "Add needs the names of two or more earlier layers"),
        (lambda: Add(("a", "b"), neurons="yes"), "neurons must be True or False"),
        (lambda: Dense(4, dropout=0.5, neurons=False), "use dropout=0 for a linear"),
        (lambda: Conv(4, 3, inputs=(1,)), "inputs must be layer names"),
    ],
)
def test_bad_specs_are_refused(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_merging_mismatched_shapes_names_the_layer():
    arch = Architecture(
        "mismatch",
        (8, 8, 2),
        (Conv(4, 3, name="a"), Add(("a", "input")), Output(3)),
    )
    with pytest.raises(ValueError) as info:
        build_network(arch)
    for word in ("Add layer 'add1' adds layers of different shapes", "a (6, 6, 4)"):
        assert word in str(info.value)


def test_loihi_refuses_graphs_by_name():
    pytest.importorskip("nengo_loihi")
    from nengo_softlif.backends.loihi import to_loihi  # noqa: PLC0415

    net = to_spiking(build_network(GRAPH))
    with pytest.raises(NotImplementedError) as info:
        to_loihi(net)
    message = str(info.value)
    assert "layer 'b' (Conv) is linear" in message or "'block'" in message
    assert "'fast', 'nengo-dl' or 'nengo' backend" in message
    skip = Architecture(
        "skip",
        (8, 8, 2),
        (Conv(4, 3, padding=1, name="a"), Add(("a", "a")), Output(3)),
    )
    with pytest.raises(NotImplementedError, match=r"'add1' \(Add\) merges"):
        to_loihi(to_spiking(build_network(skip)))


def test_spiking_graph_filters_every_path_once():
    """Synapses sit only on the connections leaving neurons."""
    spiking = to_spiking(build_network(GRAPH), synapse=nengo.Lowpass(0.01))
    for conn in spiking.all_connections:
        leaves_neurons = isinstance(conn.pre_obj, nengo.ensemble.Neurons)
        assert (conn.synapse is not None) == leaves_neurons, conn
