"""Gradient sizes, relative to the weights, of the CIFAR-10 networks as initialised.

For the paper's CIFAR-10 network with the ``fast-hard`` neurons and initial
weights (x2), and for the ReLU max-pooling network, prints per parameter array
the root mean square of the gradient of the cross-entropy on ``--n-images``
training images (one minibatch, training noise on), that of the array, and
their ratio: the relative step plain SGD takes in each layer at one learning
rate. The read-out starts at zero in the package's networks, which leaves every
other layer without a gradient; here it gets random normal weights (Glorot
scale) instead.

    python benchmarks/gradient_scales.py --data-dir DATA/cifar10 --cache-dir CACHE
"""

import argparse
import dataclasses

import numpy as np

from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.keras.models import keras_model
from nengo_softlif.network import build_network
from nengo_softlif.neurons.noise import parse_noise
from nengo_softlif.neurons.softlif import PRESETS, RectifiedLinear
from nengo_softlif.training.loop import _init_scale
from nengo_softlif.training.recipes import get_recipe


def networks(task, dataset):
    """name -> (architecture, neuron type, neuron parameters, initial scale)."""
    preset = PRESETS["cifar10"]
    architecture = task.build_architecture(dataset)
    soft = preset.soft_lif(
        sigma=0.02, noise=parse_noise("gaussian:10"), hard_forward=True
    )
    relu = dataclasses.replace(preset, amplitude=1.0, gain=1.0, bias=0.0)
    return {
        "soft LIF (fast-hard)": (
            architecture,
            soft,
            preset,
            get_recipe("fast-hard").train_config().init_scale,
        ),
        "ReLU, max pooling": (
            architecture.with_max_pooling(),
            RectifiedLinear(),
            relu,
            1.0,
        ),
    }


def gradient_scales(tf, model, images, labels, seed=1):
    """``[(name, rms(w), rms(g))]`` for every trainable array of ``model``."""
    readout = model.get_layer("output").kernel
    std = np.sqrt(2.0 / sum(readout.shape))
    readout.assign(tf.random.normal(readout.shape, stddev=std, seed=seed))
    targets = tf.one_hot(labels, int(model.output_shape[-1]))
    with tf.GradientTape() as tape:
        logits = model(images, training=True)
        loss = tf.reduce_mean(
            tf.keras.losses.categorical_crossentropy(targets, logits, from_logits=True)
        )
    grads = tape.gradient(loss, model.trainable_weights)

    def rms(x):
        return float(tf.sqrt(tf.reduce_mean(tf.square(x))))

    return [
        (w.name.split(":")[0], rms(w), rms(g))
        for w, g in zip(model.trainable_weights, grads, strict=True)
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--n-images", type=int, default=500)
    args = parser.parse_args(argv)
    import tensorflow as tf  # noqa: PLC0415

    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    dataset = dataset.subset(n_train=args.n_images)
    images, labels = task.training_data(dataset)[0](0, np.random.RandomState(0))
    for name, (architecture, neuron, params, scale) in networks(task, dataset).items():
        net = build_network(architecture, neuron, params, seed=0)
        _init_scale(net, scale)
        model = keras_model(net, seed=0)
        x = np.asarray(images, np.float32).reshape(
            (len(images),) + tuple(model.input_shape[1:])
        )
        print(
            f"\n{name}\n| array | rms(w) | rms(gradient) | ratio |\n|---|---|---|---|"
        )
        for array, w, g in gradient_scales(tf, model, x, np.asarray(labels, int)):
            ratio = f"{g / w:.3g}" if w > 0 else "-"
            print(f"| {array} | {w:.3g} | {g:.3g} | {ratio} |")


if __name__ == "__main__":
    main()
