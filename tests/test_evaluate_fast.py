"""The "fast" spiking backend against the nengo reference simulator."""

import dataclasses

import nengo
import numpy as np
import pytest
import scipy.sparse as sp

import nengo_softlif.backends.fast as fast
from nengo_softlif.compat import nengo_conv2d
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.architectures import Architecture, build_network
from nengo_softlif.network.checkpoint import get_params, set_params
from nengo_softlif.network.convert import copy_network, to_spiking
from nengo_softlif.network.layers import AvgPool, Conv, Dense, Output

from architectures import TINY

PROTOCOL = Protocol(presentation_time=0.04, t_start=0.02, t_end=0.04)

ARCH_SAME = TINY
ARCH_STRIDED = Architecture(
    "tiny-strided",
    (9, 9, 2),
    (Conv(4, 3, stride=2), AvgPool(3, 2), Conv(5, 2), Dense(12), Output(3)),
)


def _spiking(arch, lif_params="mnist", seed=0):
    net = build_network(arch, lif_params=lif_params, seed=seed)
    params = get_params(net)
    rng = np.random.default_rng(seed + 10)
    params["output.weights"] = rng.uniform(
        -0.3, 0.3, size=params["output.weights"].shape
    )
    params["output.bias"] = rng.uniform(-0.1, 0.1, size=params["output.bias"].shape)
    set_params(net, params)
    return to_spiking(net)


@pytest.fixture(scope="module")
def same_net():
    return _spiking(ARCH_SAME)


@pytest.fixture(scope="module")
def strided_net():
    return _spiking(ARCH_STRIDED, lif_params="cifar10")


def _images(net, n, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, size=(n,) + tuple(net.architecture.input_shape))
    return images, rng.integers(0, 3, size=n)


def _assert_same_result(result, reference, rtol=1e-9):
    np.testing.assert_array_equal(result.predictions, reference.predictions)
    np.testing.assert_allclose(result.outputs, reference.outputs, rtol=rtol, atol=1e-9)
    assert result.layer_rates.keys() == reference.layer_rates.keys()
    for name, rate in reference.layer_rates.items():
        assert result.layer_rates[name] == pytest.approx(rate, rel=rtol, abs=1e-9), name
    assert result.synaptic_events_per_image == pytest.approx(
        reference.synaptic_events_per_image, rel=rtol
    )


@pytest.mark.parametrize("which", ["same_net", "strided_net"])
def test_matches_nengo_one_stream(which, request):
    """float64 reproduces the reference simulator (outputs, predictions, rates)."""
    net = request.getfixturevalue(which)
    images, labels = _images(net, 3)
    reference = evaluate(net, images, labels, PROTOCOL, backend="nengo")
    result = evaluate(
        net, images, labels, PROTOCOL, backend="fast", minibatch_size=1, dtype="float64"
    )
    assert min(reference.layer_rates.values()) > 1, "test network should spike"
    _assert_same_result(result, reference)


def test_spike_trains_step_for_step(same_net):
    """Every layer's spikes equal nengo's at every step (same initial voltages)."""
    net = copy_network(same_net)
    image = _images(net, 1)[0].reshape(-1)
    net.inp.output = image
    with net:
        probes = {n: nengo.Probe(e.neurons) for n, e in net.layer_ensembles.items()}
    n_steps = 60
    with nengo.Simulator(net, progress_bar=False) as sim:
        sim.run_steps(n_steps)
    compiled = fast.compile_network(net, [net.out_probe], dtype="float64")
    compiled.reset(1)
    compiled.present(image[None])
    index = {layer.ens: i for i, layer in enumerate(compiled.layers)}
    outputs = []
    for t in range(n_steps):
        outputs.append(compiled.step()[net.out][0])
        for name, ens in net.layer_ensembles.items():
            spikes = compiled.last_spikes[index[ens]].toarray()[0]
            np.testing.assert_array_equal(
                spikes, sim.data[probes[name]][t], err_msg=f"{name} at step {t}"
            )
    np.testing.assert_allclose(outputs, sim.data[net.out_probe], rtol=1e-10, atol=1e-12)


def test_reset_with_minibatch_matches_nengo(strided_net):
    """reset=True: every image starts from the initial state, in any stream."""
    images, labels = _images(strided_net, 5, seed=1)
    protocol = Protocol(presentation_time=0.04, t_start=0.02, t_end=0.04, reset=True)
    reference = evaluate(strided_net, images, labels, protocol, backend="nengo")
    result = evaluate(
        strided_net,
        images,
        labels,
        protocol,
        backend="fast",
        minibatch_size=3,
        dtype="float64",
    )
    _assert_same_result(result, reference)


def test_streams_continue_and_padding(same_net):
    """Without reset, stream b shows its share of the images without a reset.

    5 images in minibatches of 2 (3 per stream, the last stream padded) and of 4
    (2 per stream: only 3 streams are used) equal nengo runs of each stream.
    """
    images, labels = _images(same_net, 5, seed=2)
    for mb, streams in [(2, [[0, 1, 2], [3, 4]]), (4, [[0, 1], [2, 3], [4]])]:
        result = evaluate(
            same_net,
            images,
            labels,
            PROTOCOL,
            backend="fast",
            minibatch_size=mb,
            dtype="float64",
        )
        for stream in streams:
            reference = evaluate(
                same_net, images[stream], labels[stream], PROTOCOL, backend="nengo"
            )
            np.testing.assert_allclose(
                result.outputs[stream], reference.outputs, rtol=1e-9, atol=1e-9
            )
            np.testing.assert_array_equal(
                result.predictions[stream], reference.predictions
            )


@pytest.mark.parametrize("reset", [False, True])
def test_stream_chunks_give_the_same_results(same_net, reset):
    """Simulating the streams in chunks changes nothing (streams are independent)."""
    images, labels = _images(same_net, 7, seed=4)
    protocol = Protocol(presentation_time=0.03, t_start=0.01, t_end=0.03, reset=reset)
    results = [
        evaluate(
            same_net,
            images,
            labels,
            protocol,
            backend="fast",
            minibatch_size=4,
            stream_chunk=chunk,
        )
        for chunk in (None, 3, 1, "auto")
    ]
    for result in results[1:]:
        np.testing.assert_array_equal(result.outputs, results[0].outputs)
        assert result.layer_rates == results[0].layer_rates


@pytest.mark.parametrize("which", ["same_net", "strided_net"])
def test_float32_close_to_reference(which, request):
    """float32 (the default: fast filters, folded gains) agrees statistically."""
    net = request.getfixturevalue(which)
    images, labels = _images(net, 4, seed=3)
    reference = evaluate(net, images, labels, PROTOCOL, backend="nengo")
    result = evaluate(net, images, labels, PROTOCOL, backend="fast", minibatch_size=1)
    for name, rate in reference.layer_rates.items():
        assert result.layer_rates[name] == pytest.approx(rate, rel=0.05), name
    scale = np.abs(reference.outputs).max()
    np.testing.assert_allclose(result.outputs, reference.outputs, atol=0.05 * scale)


# -- unsupported networks ----------------------------------------------------


def test_rejects_rate_neurons():
    rate_net = build_network(ARCH_SAME)
    images, labels = _images(rate_net, 1)
    with pytest.raises(TypeError, match=r"conv1.*SoftLIFRate.*nengo-dl"):
        evaluate(rate_net, images, labels, PROTOCOL, backend="fast")


def test_rejects_recurrent_connection(same_net):
    net = copy_network(same_net)
    ens = net.layers["fc1"].ensemble
    with net:
        nengo.Connection(ens.neurons, ens.neurons, transform=np.eye(16) * 0.1)
    images, labels = _images(net, 1)
    with pytest.raises(TypeError, match=r"recurrent.*fc1"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")


def test_rejects_nonlinear_function(same_net):
    net = copy_network(same_net)
    with net:
        square = nengo.Node(lambda t, x: x**2, size_in=3, label="square")
        nengo.Connection(net.out, square, synapse=None)
    images, labels = _images(net, 1)
    with pytest.raises(TypeError, match=r"square.*function.*nengo-dl"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")
    net = copy_network(same_net)
    with net:
        nengo.Connection(
            net.inp[:3], net.out, function=np.sin, synapse=None, label="sine"
        )
    with pytest.raises(TypeError, match=r"sine.*function"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")


def test_rejects_stochastic_nodes(same_net):
    net = copy_network(same_net)
    with net:
        noise = nengo.Node(nengo.processes.WhiteNoise(), size_out=3, label="noise")
        nengo.Connection(noise, net.out, synapse=None)
    images, labels = _images(net, 1)
    with pytest.raises(TypeError, match=r"noise.*function"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")


def test_rejects_other_synapses_and_decoded_connections(same_net):
    net = copy_network(same_net)
    conn = next(c for c in net.all_connections if c.label == "fc1.weights")
    conn.synapse = nengo.synapses.Triangle(0.01)
    images, labels = _images(net, 1)
    with pytest.raises(TypeError, match=r"fc1.weights.*(Triangle|synapse)"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")
    net = copy_network(same_net)
    with net:
        extra = nengo.Ensemble(5, 1, neuron_type=nengo.LIF(), label="decoded")
        nengo.Connection(extra, net.out, transform=np.ones((3, 1)))
    with pytest.raises(TypeError, match=r"decoded"):
        evaluate(net, images, labels, PROTOCOL, backend="fast")


# -- composed maps -------------------------------------------------------------


def _nengo_conv_dense(conv, kernel):
    """Dense matrix of a Convolution, from nengo's own conv2d on unit vectors."""
    n_in = conv.size_in
    x = np.eye(n_in).reshape((n_in,) + tuple(conv.input_shape.shape))
    if not conv.channels_last:
        x = np.moveaxis(x, 1, -1)
    stride = tuple(conv.strides)
    if conv.dimensions == 1:
        x, kernel, stride = x[:, None], kernel[None], (1,) + stride
    y = nengo_conv2d(x, kernel, pad=conv.padding.upper(), stride=stride)
    if conv.dimensions == 1:
        y = y[:, 0]
    if not conv.channels_last:
        y = np.moveaxis(y, -1, 1)
    return y.reshape(n_in, -1).T


@pytest.mark.parametrize(
    "shape, kernel, strides, padding, channels_last",
    [
        ((7, 6, 2), (3, 3), (1, 1), "same", True),
        ((7, 6, 2), (3, 2), (2, 2), "same", True),
        ((9, 8, 3), (3, 3), (2, 1), "valid", True),
        ((2, 7, 6), (3, 3), (2, 2), "same", False),
        ((10, 2), (3,), (2,), "same", True),
    ],
)
def test_convolution_matrix(shape, kernel, strides, padding, channels_last, rng):
    conv = nengo.Convolution(
        4,
        shape,
        kernel_size=kernel,
        strides=strides,
        padding=padding,
        channels_last=channels_last,
    )
    weights = rng.normal(size=kernel + (conv.input_shape.n_channels, 4))
    matrix = fast.convolution_matrix(conv, kernel=weights)
    np.testing.assert_allclose(
        matrix.toarray(), _nengo_conv_dense(conv, weights), atol=1e-12
    )
    if channels_last and len(shape) == 3:
        core = fast.ConvCore(conv, weights, np.dtype("float64"))
        x = sp.random(3, conv.size_in, density=0.2, format="csr", random_state=1)
        out = np.zeros(3 * conv.size_out + core.pad)
        core.accumulate(x, out)
        expected = (matrix @ x.T).T.toarray()
        np.testing.assert_allclose(
            out[: expected.size].reshape(expected.shape), expected
        )


def test_convolution_matrix_matches_a_nengo_run(rng):
    weights = rng.normal(size=(3, 3, 2, 3))
    conv = nengo.Convolution(3, (6, 5, 2), (3, 3), (2, 2), "same", init=weights)
    x = rng.uniform(size=conv.size_in)
    with nengo.Network() as model:
        node = nengo.Node(x)
        out = nengo.Node(size_in=conv.size_out)
        nengo.Connection(node, out, transform=conv, synapse=None)
        probe = nengo.Probe(out)
    with nengo.Simulator(model, progress_bar=False) as sim:
        sim.step()
    np.testing.assert_allclose(fast.convolution_matrix(conv) @ x, sim.data[probe][0])


def _dense(transform):
    init = transform.init
    if isinstance(transform, nengo.Sparse):
        return init.toarray()
    if isinstance(transform, nengo.Convolution):
        return _nengo_conv_dense(transform, init)
    return np.asarray(init)


def test_composed_maps_equal_product_of_transforms(same_net):
    """Pool then locally-connected (and pool then dense ...) become one matrix."""
    net = same_net
    compiled = fast.compile_network(net, [net.out_probe], dtype="float64")
    conn = {c.label: c for c in net.all_connections}
    ens = net.layer_ensembles
    pool = _dense(conn["pool1.weights"].transform)
    cases = {
        (net.inp, ens["conv1"]): _dense(conn["conv1.weights"].transform),
        (ens["conv1"], ens["local1"]): _dense(conn["local1.weights"].transform) @ pool,
        (ens["local1"], ens["fc1"]): _dense(conn["fc1.weights"].transform),
        (ens["fc1"], net.out): _dense(conn["output.weights"].transform),
    }
    for key, expected in cases.items():
        (spike_map,) = compiled.spike_maps[key]
        np.testing.assert_allclose(spike_map.matrix().toarray(), expected, atol=1e-12)
        # the fast application agrees with the matrix, in both code paths
        x = sp.random(4, expected.shape[1], density=0.3, format="csr", random_state=2)
        if key[0] is not net.inp:
            np.testing.assert_allclose(spike_map.apply(x), (x @ expected.T), atol=1e-12)
        np.testing.assert_allclose(
            spike_map.apply_dense(x.toarray()), x.toarray() @ expected.T, atol=1e-12
        )
    pooled_conv = compiled.spike_maps[(ens["conv1"], ens["local1"])][0]
    assert pooled_conv.pre is not None  # pooling applied to the spikes first


def test_composed_strided_conv_after_pool(strided_net, monkeypatch):
    net = strided_net
    compiled = fast.compile_network(net, [net.out_probe], dtype="float64")
    conn = {c.label: c for c in net.all_connections}
    ens = net.layer_ensembles
    expected = _dense(conn["conv2.weights"].transform) @ _dense(
        conn["pool1.weights"].transform
    )
    (spike_map,) = compiled.spike_maps[(ens["conv1"], ens["conv2"])]
    assert isinstance(spike_map.core, fast.ConvCore)
    np.testing.assert_allclose(spike_map.matrix().toarray(), expected, atol=1e-12)
    x = sp.random(3, expected.shape[1], density=0.1, format="csr", random_state=3)
    np.testing.assert_allclose(spike_map.apply(x), x @ expected.T, atol=1e-12)
    monkeypatch.setattr(fast.cores, "_coo_matmat_dense", None)  # scipy without it
    np.testing.assert_allclose(spike_map.apply(x), x @ expected.T, atol=1e-12)


@pytest.mark.parametrize("synapse", [nengo.Alpha(0.005), nengo.Lowpass(0.01)])
def test_fast_filter_matches_nengo(synapse, rng):
    dt = 0.001
    A, B, C, D = synapse._get_ss(dt)
    fast_filter = fast.synapses._FastFilter.from_ss(A, B, C, D, np.dtype("float64"))
    assert fast_filter is not None
    u = rng.normal(size=(50, 7)) * (rng.uniform(size=(50, 7)) < 0.2) * 1000
    state = synapse.make_state((7,), (7,), dt, dtype=np.float64)
    step = synapse.make_step((7,), (7,), dt, None, state)
    X = fast_filter.make_state(7)
    for ut in u:
        expected = step(None, ut)
        got = fast_filter.step(X, ut * fast_filter.scale)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_warm_up_shows_each_stream_the_image_before_its_first(same_net):
    """With warm-up, stream 2 (images 2, 3) follows image 1 as one stream does."""
    images, labels = _images(same_net, 4)
    protocol = dataclasses.replace(PROTOCOL, reset=False)
    options = {"backend": "fast", "dtype": "float64"}
    warm = evaluate(
        same_net, images, labels, protocol, minibatch_size=2, warm_up=True, **options
    )
    one = evaluate(
        same_net, images[1:], labels[1:], protocol, minibatch_size=1, **options
    )
    np.testing.assert_allclose(warm.outputs[2:], one.outputs[1:], rtol=1e-12)
    cold = evaluate(same_net, images, labels, protocol, minibatch_size=2, **options)
    assert not np.allclose(cold.outputs[2], one.outputs[1])
