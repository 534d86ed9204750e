"""Shared checks of training runs (import as ``from training_helpers import``)."""

import numpy as np

from nengo_softlif.network.checkpoint import get_params
from nengo_softlif.training.loop import train


def assert_chunks_resume_exactly(make_net, data, config, path):
    """Training ``config.epochs`` one epoch a call, resuming from ``path``,
    ends at the weights of one call that trains them all."""
    whole = make_net()
    train(whole, data, config, verbose=0)
    for _ in range(config.epochs):
        net = make_net()
        result = train(net, data, config, str(path), verbose=0, max_epochs=1)
        assert result.epochs_run == 1
    for key, value in get_params(whole).items():
        assert np.array_equal(value, get_params(net)[key]), key


def three_class_images(rng, n=200):
    """8x8x2 images (flattened) of three classes: which third of the rows is
    brighter."""
    labels = rng.integers(0, 3, n)
    images = rng.uniform(-0.5, 0.5, (n, 8, 8, 2))
    for k in range(3):
        images[labels == k, 3 * k : 3 * k + 2] += 0.8
    return images.reshape(n, -1).astype(np.float32), labels
