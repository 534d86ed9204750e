"""Spiking test networks and images shared by the Loihi and diagnosis tests."""

import numpy as np

from nengo_softlif.evaluation.diagnosis import readout_difference
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import get_params, set_params
from nengo_softlif.network.convert import to_spiking

__all__ = ["images_for", "readout_difference", "spiking_network"]


def spiking_network(architecture, seed=0):
    """A spiking network with random (nonzero) read-out weights."""
    net = build_network(architecture, lif_params="mnist", seed=seed)
    params = get_params(net)
    rng = np.random.default_rng(seed)
    params["output.weights"] = rng.normal(0, 1.0, params["output.weights"].shape)
    set_params(net, params)
    return to_spiking(net)


def images_for(architecture, n, rng, signed=False):
    """Images with a different bright region each, so read-outs differ."""
    shape = (n, *architecture.input_shape)
    images = rng.uniform(0, 0.3, shape)
    for i in range(n):
        r, c = rng.integers(0, shape[1] // 2, 2)
        images[i, r : r + shape[1] // 2, c : c + shape[2] // 2] += 0.7
    if signed:
        images = 2 * images - 1
    return images.astype(np.float32), rng.integers(0, 3, n)
