"""Sharded evaluation over a local Dask cluster of two workers = one process."""

import concurrent.futures

import numpy as np
import pytest

from nengo_softlif.evaluation.distributed import evaluate_sharded, stream_shards
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import get_params, set_params
from nengo_softlif.network.convert import to_spiking

from architectures import TINY

PROTOCOL = Protocol(presentation_time=0.03, t_start=0.015, t_end=0.03)


@pytest.fixture(scope="module")
def spiking_net():
    net = build_network(TINY, lif_params="mnist", seed=0)
    params = get_params(net)
    rng = np.random.default_rng(3)
    params["output.weights"] = rng.uniform(-0.3, 0.3, params["output.weights"].shape)
    set_params(net, params)
    return to_spiking(net)


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n,) + TINY.input_shape), rng.integers(0, 3, n)


def _assert_same(result, reference):
    np.testing.assert_array_equal(result.predictions, reference.predictions)
    np.testing.assert_allclose(result.outputs, reference.outputs, rtol=1e-6, atol=1e-9)
    assert result.error == reference.error and result.n_images == reference.n_images
    for name, rate in reference.layer_rates.items():
        assert result.layer_rates[name] == pytest.approx(rate, rel=1e-9)
    assert result.synaptic_events_per_image == pytest.approx(
        reference.synaptic_events_per_image, rel=1e-9
    )
    np.testing.assert_allclose(
        result.error_vs_time["error"], reference.error_vs_time["error"], atol=1e-12
    )


def test_stream_shards_are_whole_streams():
    # 10 images in 4 streams: 3 per stream, the last stream has 1
    assert stream_shards(10, 4, 2) == [(0, 6, 2), (6, 9, 1), (9, 10, 1)]
    assert stream_shards(12, 4, 2) == [(0, 6, 2), (6, 12, 2)]
    shards = stream_shards(1000, 100, 3)
    assert shards[0][0] == 0 and shards[-1][1] == 1000
    assert sum(s for _, _, s in shards) == 100
    with pytest.raises(ValueError):
        stream_shards(0, 4, 2)


def test_dask_local_cluster_of_two_workers_matches_one_process(spiking_net):
    distributed = pytest.importorskip("distributed")
    images, labels = _data(10)
    reference = evaluate(
        spiking_net, images, labels, PROTOCOL, backend="fast", minibatch_size=4
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        result = evaluate_sharded(
            spiking_net,
            images,
            labels,
            client,
            PROTOCOL,
            backend="fast",
            minibatch_size=4,
        )
    _assert_same(result, reference)


def test_sequential_backend_needs_reset(spiking_net):
    images, labels = _data(4)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        with pytest.raises(ValueError, match="reset=True"):
            evaluate_sharded(
                spiking_net, images, labels, pool, PROTOCOL, backend="nengo"
            )
        protocol = Protocol(
            presentation_time=0.02, t_start=0.01, t_end=0.02, reset=True
        )
        reference = evaluate(spiking_net, images, labels, protocol, backend="nengo")
        result = evaluate_sharded(
            spiking_net, images, labels, pool, protocol, backend="nengo", n_shards=2
        )
    _assert_same(result, reference)
