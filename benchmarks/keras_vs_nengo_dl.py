"""The paper's CIFAR-10 network trained in plain Keras and in nengo-dl, same budget.

``keras``: :func:`nengo_softlif.keras.paper_model` trained with ``model.fit``
(Adam, constant learning rate, the task's augmentation redrawn every epoch), then
:func:`nengo_softlif.keras.from_keras`. ``nengo-dl``: the same network, initial
weights and settings trained by ``train(..., engine="nengo-dl")``. Both are then
evaluated the same way: static soft and hard LIF on the test images, and as spikes
(the paper's protocol, fast backend) on the first ``--spiking-n-test``. Prints
seconds per epoch and the errors.

Example::

    python benchmarks/keras_vs_nengo_dl.py --data-dir DATA/cifar10 --cache-dir CACHE \\
        --epochs 2 --spiking-n-test 1000 --out runs/keras-vs-nengo-dl
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.experiment import (
    ExperimentConfig,
    evaluate_checkpoint,
    static_error_on_spiking_images,
)
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.checkpoint import save_checkpoint
from nengo_softlif.training.loop import TrainConfig, train


def train_keras(task, dataset, epochs, lr, seed):
    import tensorflow as tf

    from nengo_softlif.keras import from_keras, paper_model

    model = paper_model("cifar10", noise="gaussian:10", seed=seed)
    model.compile(
        tf.keras.optimizers.Adam(lr),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    data, _, _ = task.training_data(dataset)
    seconds = []
    for epoch in range(epochs):
        images, labels = data(epoch, np.random.default_rng([seed, epoch]))
        start = time.perf_counter()
        model.fit(images, labels, batch_size=100, epochs=1, verbose=0, shuffle=True)
        seconds.append(time.perf_counter() - start)
    return from_keras(model, name="cifar10", seed=seed), seconds


def train_nengo_dl(task, dataset, epochs, lr, seed):
    from nengo_softlif.network.architectures import build_network
    from nengo_softlif.neurons.noise import GaussianNoise
    from nengo_softlif.neurons.softlif import PRESETS

    preset = PRESETS["cifar10"]
    net = build_network(
        "cifar10",
        preset.soft_lif(sigma=0.02, noise=GaussianNoise(10)),
        preset,
        seed=seed,
    )
    data, _, _ = task.training_data(dataset)
    config = TrainConfig(
        epochs=epochs, learning_rate=lr, lr_schedule="constant", seed=seed
    )
    result = train(net, data, config, verbose=0)
    return net, [h["seconds"] for h in result.history]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--spiking-n-test", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/keras-vs-nengo-dl")
    parser.add_argument("--train-images", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    args = parser.parse_args(argv)
    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    dataset = dataset.subset(n_train=args.train_images)
    config = ExperimentConfig(
        n_test=args.n_test,
        spiking_n_test=args.spiking_n_test,
        workers=args.workers,
        hard_forward=False,  # the paper's soft forward, as measured
    )
    results = {}
    for name, trainer in (("keras", train_keras), ("nengo-dl", train_nengo_dl)):
        net, seconds = trainer(task, dataset, args.epochs, args.lr, 0)
        path = os.path.join(args.out, name, "checkpoint.npz")
        save_checkpoint(path, net, epoch=args.epochs)
        record, _ = evaluate_checkpoint(task, dataset, path, config)
        record["seconds_per_epoch"] = seconds
        results[name] = record
        print(
            f"{name:9s} {np.mean(seconds[1:] or seconds):7.1f} s/epoch  static soft "
            f"{100 * record['static_soft']['error']:.2f}%  hard "
            f"{100 * record['static_hard']['error']:.2f}%  spiking "
            f"{100 * record['spiking']['error']:.2f}% (static soft on those images "
            f"{100 * static_error_on_spiking_images(record):.2f}%)",
            flush=True,
        )
    atomic_write_bytes(
        os.path.join(args.out, "results.json"),
        json.dumps({"args": vars(args), "results": results}, indent=2).encode(),
    )


if __name__ == "__main__":
    main()
