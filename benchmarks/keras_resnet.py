"""A small ResNet-style CIFAR-10 model written in Keras, run as spikes.

The model is written as a Keras user writes one: ``Conv2D`` without bias,
``BatchNormalization``, ``ReLU``; two residual blocks joined with ``Add`` (an
identity skip, then a strided block with a 1x1 convolution projecting the skip);
average pooling and a ``Dense`` read-out. It is trained with ``model.fit`` on the
package's CIFAR-10 task (24x24 random crops and flips, mean image subtracted;
the test images centre-cropped), then converted with
``from_keras(model, swap_activations={"relu": RectifiedLinearRates(gain=G,
amplitude=1/G)}, fold_batch_norm=True)``: the same outputs as the model
(``relu(x) = relu(G x) / G``), with neurons that fire ``G`` times the
activation in Hz, so that spiking ReLU neurons (`nengo.SpikingRectifiedLinear`)
carry the activations at useful rates. ``G`` is chosen so that the neurons'
mean rate on training images is ``--mean-rate`` Hz (or given as ``--rate-gain``).

Prints the Keras test error, the package's static error (nengo-dl, all test
images), and the spiking error on the fast backend (the first ``--spiking-n-test``
test images, with the static error on those same images).

Example::

    python benchmarks/keras_resnet.py --data-dir DATA/cifar10 --cache-dir CACHE \\
        --epochs 4 --spiking-n-test 1000 --out runs/keras-resnet
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nengo
import numpy as np

from nengo_softlif.data import load_dataset
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.convert import to_spiking

import _common


def resnet_model(tf, width, seed):
    """The Keras model: 24x24x3 -> conv -> residual block -> pool -> strided
    residual block with a projected skip -> pool -> Dense(10)."""
    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers

    def conv_bn(x, filters, stride=1, kernel=3):
        x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False)(x)
        return layers.BatchNormalization()(x)

    inputs = tf.keras.Input((24, 24, 3))
    x = layers.ReLU()(conv_bn(inputs, width))
    y = layers.ReLU()(conv_bn(x, width))
    x = layers.ReLU()(layers.Add()([conv_bn(y, width), x]))
    x = layers.AveragePooling2D(2)(x)
    y = layers.ReLU()(conv_bn(x, 2 * width, stride=2))
    skip = conv_bn(x, 2 * width, stride=2, kernel=1)
    x = layers.ReLU()(layers.Add()([conv_bn(y, 2 * width), skip]))
    x = layers.AveragePooling2D(2)(x)
    outputs = layers.Dense(10)(layers.Flatten()(x))
    return tf.keras.Model(inputs, outputs, name="keras_resnet")


def train_keras(tf, task, dataset, args):
    """The model trained with model.fit (augmentation redrawn every epoch)."""
    model = resnet_model(tf, args.width, args.seed)
    model.compile(
        tf.keras.optimizers.Adam(args.lr),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    data, test_images, test_labels = task.training_data(dataset)
    seconds = []
    for epoch in range(args.epochs):
        images, labels = data(epoch, np.random.default_rng([args.seed, epoch]))
        images = images.reshape((-1, 24, 24, 3))
        start = time.perf_counter()
        model.fit(images, labels, batch_size=64, epochs=1, verbose=0, shuffle=True)
        seconds.append(time.perf_counter() - start)
        print(f"epoch {epoch + 1}/{args.epochs}: {seconds[-1]:.0f} s", flush=True)
    return model, test_images.reshape((-1, 24, 24, 3)), test_labels, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate-gain", type=float, default=None)
    parser.add_argument("--mean-rate", type=float, default=200.0)
    parser.add_argument("--presentation-ms", type=float, default=200.0)
    parser.add_argument("--t-start-ms", type=float, default=100.0)
    parser.add_argument("--synapse-ms", type=float, default=5.0)
    parser.add_argument("--spiking-n-test", type=int, default=1000)
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--out", default="runs/keras-resnet")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from nengo_softlif.keras import RectifiedLinearRates, from_keras

    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    dataset = dataset.subset(n_train=args.train_images)
    model, test_images, test_labels, seconds = train_keras(tf, task, dataset, args)
    keras_scores = model.predict(test_images, batch_size=500, verbose=0)
    keras_error = float(np.mean(np.argmax(keras_scores, axis=1) != test_labels))

    def convert(gain):
        relu = RectifiedLinearRates(gain=gain, amplitude=1 / gain)
        return from_keras(model, swap_activations={"relu": relu}, fold_batch_norm=True)

    gain = args.rate_gain
    if gain is None:  # mean activation on training images -> args.mean_rate Hz
        data, _, _ = task.training_data(dataset)
        images, labels = data(0, np.random.default_rng(args.seed))
        unit = evaluate(convert(1.0), images[:500], labels[:500], backend="nengo-dl")
        gain = args.mean_rate / np.mean(list(unit.layer_rates.values()))
    net = convert(gain)
    flat = test_images.reshape((len(test_images), -1))
    static = evaluate(net, flat, test_labels, backend="nengo-dl", minibatch_size=500)
    n = args.spiking_n_test
    protocol = Protocol(
        presentation_time=args.presentation_ms / 1000,
        t_start=args.t_start_ms / 1000,
    )
    start = time.perf_counter()
    spiking = evaluate(
        to_spiking(net, synapse=nengo.Alpha(args.synapse_ms / 1000)),
        flat[:n],
        test_labels[:n],
        protocol,
        backend="fast",
    )
    spiking_seconds = time.perf_counter() - start
    static_first = float(np.mean(static.predictions[:n] != test_labels[:n]))
    rates = {k: round(v, 1) for k, v in spiking.layer_rates.items()}
    lines = [
        f"keras_resnet (width {args.width}, {args.epochs} epochs, "
        f"{np.mean(seconds):.0f} s/epoch in Keras; {net.n_neurons} neurons)",
        "",
        "| | test images | error |",
        "|---|---:|---:|",
        f"| Keras model.predict | {len(test_labels)} | {100 * keras_error:.2f}% |",
        f"| package, static (nengo-dl) | {len(test_labels)} | "
        f"{100 * static.error:.2f}% |",
        f"| package, static (nengo-dl) | first {n} | {100 * static_first:.2f}% |",
        f"| package, spiking (fast, {args.presentation_ms:.0f} ms, alpha "
        f"{args.synapse_ms:g} ms, rate gain {gain:.0f}) | first {n} | "
        f"{100 * spiking.error:.2f}% |",
        "",
        f"static - Keras: {100 * (static.error - keras_error):+.3f} points; "
        f"spiking - static (same images): {100 * (spiking.error - static_first):+.2f} "
        f"points; spiking run {spiking_seconds:.0f} s",
        f"mean rates (Hz): {rates}",
        f"changes: {len(net.keras_rewrites)} ({'; '.join(net.keras_rewrites[:3])}; ...)",
    ]
    markdown = "\n".join(lines)
    print(markdown, flush=True)
    _common.write_results(
        args.out,
        markdown,
        {
            "args": vars(args),
            "keras_error": keras_error,
            "static_error": static.error,
            "static_error_first": static_first,
            "spiking_error": spiking.error,
            "seconds_per_epoch": seconds,
            "spiking_seconds": spiking_seconds,
            "rate_gain": gain,
            "layer_rates": spiking.layer_rates,
            "architecture": net.architecture.to_dict(),
        },
    )


if __name__ == "__main__":
    main()
