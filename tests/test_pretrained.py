"""Shipped data and networks: the CIFAR-10 sample, exporting and loading networks."""

import json

import numpy as np
import pytest

from nengo_softlif import PRESETS, GaussianNoise
from nengo_softlif.data import load_cifar10_sample
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import (
    get_params,
    load_checkpoint,
    save_checkpoint,
)
from nengo_softlif.pretrained import export_pretrained


def test_cifar10_sample_is_ten_of_each_class():
    images, labels = load_cifar10_sample()
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(np.bincount(labels), np.full(10, 10))
    assert 0.35 < images.mean() / 255 < 0.6  # real photographs, not blank


def test_export_keeps_the_network_within_float16(tmp_path):
    from architectures import TINY  # noqa: PLC0415

    preset = PRESETS["cifar10"]
    net = build_network(TINY, preset.soft_lif(noise=GaussianNoise(10)), preset, seed=3)
    checkpoint = tmp_path / "ck.npz"
    save_checkpoint(
        checkpoint, net, training_state={"optimizer": [np.ones(3)]}, epoch=4
    )
    out = tmp_path / "shipped.npz"
    mean = np.random.default_rng(0).uniform(size=(8, 8, 2))
    export_pretrained(
        checkpoint,
        out,
        {"command": "x", "epochs": 4},
        preprocessing={"mean_image": mean},
    )
    params, meta = load_checkpoint(out)
    assert meta["provenance"] == {"command": "x", "epochs": 4}
    assert meta["state"]["epoch"] == 4
    for key, value in get_params(net).items():
        assert params[key].dtype == np.float32
        assert np.allclose(params[key], value, rtol=1e-3, atol=1e-4), key
    with np.load(out) as data:
        assert not any(k.startswith("__train__") for k in data.files)
        assert np.allclose(data["__preprocess__.mean_image"], mean, atol=1e-6)
        assert json.loads(str(data["__meta__"]))["format"] == 1
    assert out.stat().st_size < checkpoint.stat().st_size


@pytest.mark.parametrize("name", ["cifar10", "cifar10-loihi"])
def test_the_shipped_cifar10_networks_classify_the_shipped_images(name):
    import nengo  # noqa: PLC0415

    from nengo_softlif.data import center_crop, to_float  # noqa: PLC0415
    from nengo_softlif.evaluation.runner import Protocol, evaluate  # noqa: PLC0415
    from nengo_softlif.network.convert import to_spiking  # noqa: PLC0415
    from nengo_softlif.pretrained import (  # noqa: PLC0415
        load_pretrained,
        pretrained_path,
        pretrained_preprocessing,
    )

    assert pretrained_path(name, task="cifar10").endswith(f"{name}.npz")
    net, meta = load_pretrained(name)
    provenance = meta["provenance"]
    assert provenance["epochs"] == meta["state"]["epoch"]
    assert {"train_command", "data_md5", "errors_percent"} <= set(provenance)
    pools = [
        layer
        for layer in meta["architecture"]["layers"]
        if "pool" in layer["type"].lower()
    ]
    # the Loihi network's pools are the ones Loihi computes exactly
    expected = "padded" if name == "cifar10-loihi" else "clipped"
    assert [pool.get("edges", "clipped") for pool in pools] == [expected] * 2
    images, labels = load_cifar10_sample()
    mean = pretrained_preprocessing(name)["mean_image"]
    prepared = center_crop(to_float(images), 24) - mean
    static = evaluate(net, prepared, labels, backend="nengo")
    assert static.error < 0.35  # 23.7% on the whole test set
    spikes = evaluate(
        to_spiking(net, synapse=nengo.Alpha(0.005)),
        prepared[:10],
        labels[:10],
        Protocol(t_start=0.1),
        backend="fast",
    )
    assert np.mean(spikes.predictions == static.predictions[:10]) >= 0.7


def test_unknown_pretrained_names_are_refused():
    from nengo_softlif.pretrained import load_pretrained  # noqa: PLC0415

    with pytest.raises(ValueError, match="No pretrained network 'imagenet'"):
        load_pretrained("imagenet")
