"""A Keras model as a user writes it, trained with ReLU and with the guide's SoftLIF.

The model is written with ``activation="relu"`` inside its ``Conv2D`` layers, as
Keras users write it. ``relu`` trains it as it is; ``softlif`` rewrites it first
with the Keras guide's recipe (docs/keras.rst): every ``relu`` swapped for
``SoftLIF.from_preset(task, noise=...)`` by :func:`nengo_softlif.keras.rewrite_model`,
with the layer's defaults (hard LIF forward pass, soft derivative backward). Both
start from the same initial weights and train with the same budget: ``model.fit``,
Adam at ``--lr`` (``--lr-schedule``, ``--warmup-epochs``), minibatch ``--minibatch``, ``--epochs``
epochs, the task's preprocessing (MNIST: scaled to [0, 1]; CIFAR-10: 24x24 random
crops and flips, redrawn every epoch, centre crops for testing, mean image
subtracted).

``--sigma``, ``--amplitude``, ``--bias`` (the SoftLIF layers') and
``--first-scale``, ``--hidden-scale``, ``--readout-scale``
(:func:`~nengo_softlif.keras.scale_initial_weights`) change one setting of the
recipe at a time; ``--first-in-kernel`` puts the first scale in the kernels of
the layers that see the data rather than in their neurons' gain. ``--ema``
evaluates both models with a moving average of their trainable weights
(updated after every step, the same warm-up as ``TrainConfig.ema_decay``).

Printed for each: the static test error on all test images (``model.predict``),
and for ``softlif`` the spiking error on the first ``--spiking-n-test`` test images
(:func:`~nengo_softlif.keras.from_keras`, :func:`~nengo_softlif.to_spiking` with
alpha synapses of 5 ms, the task's protocol, the ``fast`` backend) with the static
error on those same images.

Models: ``mnist`` is nengo-dl's "Keras to SNN" tutorial model (Conv2D 32 3x3,
Conv2D 64 3x3 stride 2, Dense 10); ``cifar10`` a small all-convolutional model
(Conv2D 32 3x3 stride 2, 64 3x3, 64 3x3 stride 2, all 'same', Dense 10).

Example::

    python benchmarks/keras_softlif_vs_relu.py --task mnist --data-dir DATA/mnist \\
        --out runs/keras-softlif-vs-relu-mnist
    python benchmarks/keras_softlif_vs_relu.py --task cifar10 \\
        --data-dir DATA/cifar10 --cache-dir CACHE --out runs/keras-softlif-vs-relu-cifar10
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import _common

EPOCHS = {"mnist": 2, "cifar10": 10}
VARIANTS = ("relu", "softlif", "softlif-unscaled")


def user_model(task, input_shape):
    """The model as a Keras user writes it (relu inside the layers)."""
    import tensorflow as tf

    layers = tf.keras.layers
    x = inputs = tf.keras.Input(input_shape)
    if task == "mnist":
        x = layers.Conv2D(32, 3, activation="relu")(x)
        x = layers.Conv2D(64, 3, strides=2, activation="relu")(x)
    else:
        x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Dense(10)(layers.Flatten()(x))
    return tf.keras.Model(inputs, outputs, name=f"{task}_user")


def fit(model, train_data, args, callbacks=()):
    """``model.fit`` one epoch at a time (the augmentation redrawn each epoch)."""
    import tensorflow as tf

    from nengo_softlif.training.loop import TrainConfig  # noqa: PLC0415

    # the package's learning-rate schedules, set before every step
    schedule = TrainConfig(
        epochs=args.epochs,
        learning_rate=args.lr,
        lr_schedule=args.lr_schedule,
        warmup_epochs=args.warmup_epochs,
    )
    model.compile(
        tf.keras.optimizers.Adam(args.lr),
        tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = []
    for epoch in range(args.epochs):
        images, labels = train_data(epoch, np.random.default_rng([args.seed, epoch]))
        steps = -(-len(labels) // args.minibatch)
        set_lr = tf.keras.callbacks.LambdaCallback(
            on_train_batch_begin=lambda step, logs=None, epoch=epoch, steps=steps: (
                model.optimizer.learning_rate.assign(
                    schedule.learning_rate_at(epoch + step / steps)
                )
            )
        )
        images = images.reshape((-1, *model.input_shape[1:]))
        start = time.perf_counter()
        h = model.fit(
            images,
            labels,
            batch_size=args.minibatch,
            epochs=1,
            verbose=0,
            callbacks=[set_lr, *callbacks],
            shuffle=True,
        )
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(h.history["loss"][0]),
                "accuracy": float(h.history["accuracy"][0]),
                "learning_rate": float(model.optimizer.learning_rate.numpy()),
                "seconds": time.perf_counter() - start,
            }
        )
        print(
            f"  epoch {epoch + 1}: loss {history[-1]['loss']:.4f}, training "
            f"accuracy {history[-1]['accuracy']:.4f}, last learning rate "
            f"{history[-1]['learning_rate']:.2g}, {history[-1]['seconds']:.0f} s",
            flush=True,
        )
    return history


def weight_average(model, decay):
    """A callback keeping a moving average of ``model``'s trainable weights.

    Its ``assign()`` puts the averages into the model (for evaluation).
    """
    import tensorflow as tf

    class WeightAverage(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps = 0
            self.averages = [v.numpy() for v in model.trainable_variables]

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            t = self.steps - 1
            d = min(decay, (1.0 + t) / (10.0 + t))
            for average, v in zip(
                self.averages, model.trainable_variables, strict=True
            ):
                average *= d
                average += (1.0 - d) * v.numpy()

        def assign(self):
            for average, v in zip(
                self.averages, model.trainable_variables, strict=True
            ):
                v.assign(average)

    return WeightAverage()


def _schedule(args):
    """The learning-rate schedule (and weight averaging) in words."""
    words = args.lr_schedule
    if args.warmup_epochs:
        words += f", {args.warmup_epochs:g}-epoch warm-up"
    if args.ema:
        words += f"; evaluated with weights averaged (EMA {args.ema:g})"
    return words


def _given(**values):
    """The options that were given on the command line (not None)."""
    return {name: value for name, value in values.items() if value is not None}


def _sees_the_data(layer):
    """Whether ``layer`` reads the model's input."""
    import tensorflow as tf

    return any(
        isinstance(node.inbound_layers, tf.keras.layers.InputLayer)
        for node in layer._inbound_nodes  # noqa: SLF001
    )


def spiking_error(model, task, images, labels):
    """Spiking error (fast backend) of a trained SoftLIF Keras model."""
    import nengo

    from nengo_softlif import evaluate, to_hard_rate, to_spiking
    from nengo_softlif.keras import from_keras

    net = from_keras(model, seed=0)
    flat = images.reshape(len(images), -1)
    hard = evaluate(to_hard_rate(net), flat, labels)
    spiking = to_spiking(net, synapse=nengo.Alpha(0.005))
    return hard, evaluate(spiking, flat, labels, task.protocol, backend="fast")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(EPOCHS), default="mnist")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument(
        "--epochs", type=int, help="default: 2 for mnist, 10 for cifar10"
    )
    parser.add_argument("--minibatch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine", "step"),
        default="constant",
        help="the learning rate over the run (the package's schedules: constant, "
        "a cosine decay to 0, or divided by 10 at 50%% and 75%%)",
    )
    parser.add_argument(
        "--warmup-epochs",
        type=float,
        default=0,
        help="epochs of a linear learning-rate warm-up from 0 to --lr",
    )
    parser.add_argument(
        "--noise", default="gaussian:10", help="the SoftLIF layers' training noise"
    )
    parser.add_argument(
        "--sigma", type=float, help="the SoftLIF layers' sigma (default: the layer's)"
    )
    parser.add_argument(
        "--amplitude",
        type=float,
        help="the SoftLIF layers' amplitude (default: the preset's)",
    )
    parser.add_argument(
        "--bias",
        type=float,
        help="the SoftLIF layers' initial bias (default: the preset's)",
    )
    parser.add_argument(
        "--hidden-scale",
        type=float,
        help="scale_initial_weights' hidden (default: its default)",
    )
    parser.add_argument(
        "--first-scale",
        type=float,
        help="scale_initial_weights' first (default: its default)",
    )
    parser.add_argument(
        "--readout-scale",
        type=float,
        help="scale_initial_weights' readout (default: its default)",
    )
    parser.add_argument(
        "--first-in-kernel",
        action="store_true",
        help="multiply the kernels of the layers that see the data by the first "
        "scale (default 8) instead of their neurons' gain",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="evaluate with a moving average of the weights of this decay "
        "(e.g. 0.999; 0: the weights as trained)",
    )
    parser.add_argument("--train-images", type=int, help="default: all")
    parser.add_argument("--spiking-n-test", type=int, default=1000)
    parser.add_argument("--variants", default="relu,softlif")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="folder for results.md and results.json")
    args = parser.parse_args(argv)
    args.epochs = args.epochs or EPOCHS[args.task]
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {VARIANTS}")

    import tensorflow as tf

    from nengo_softlif.data import load_dataset
    from nengo_softlif.experiments.tasks import get_task
    from nengo_softlif.keras import (
        SoftLIF,
        rewrite_model,
        scale_initial_weights,
    )

    task = get_task(args.task)
    dataset = load_dataset(args.task, args.data_dir, cache_dir=args.cache_dir)
    if args.train_images:
        dataset = dataset.subset(n_train=args.train_images)
    train_data, test_images, test_labels = task.training_data(dataset)
    test_images = test_images.reshape((-1, *task.input_shape(dataset)))
    n_spiking = min(args.spiking_n_test, len(test_labels))
    print(
        f"{args.task}: {len(dataset.train_labels)} training images, "
        f"{len(test_labels)} test images, {args.epochs} epochs, minibatch "
        f"{args.minibatch}, Adam {args.lr:g} ({_schedule(args)})",
        flush=True,
    )

    tf.keras.utils.set_random_seed(args.seed)
    model = user_model(args.task, test_images.shape[1:])
    initial = model.get_weights()
    rows, results = [], {}
    for variant in variants:
        print(f"{variant}:", flush=True)
        callbacks = []
        if variant == "relu":
            trained = tf.keras.models.clone_model(model)
            trained.set_weights(initial)
        else:
            options = _given(sigma=args.sigma, amplitude=args.amplitude, bias=args.bias)
            template = SoftLIF.from_preset(
                args.task, noise=args.noise, seed=args.seed, **options
            )
            # a copy of the model with its initial weights, relu swapped
            trained = rewrite_model(model, swap_activations={"relu": template}).model
            if variant == "softlif":
                scales = _given(
                    hidden=args.hidden_scale,
                    readout=args.readout_scale,
                    first=args.first_scale,
                )
                changes = []
                if args.first_in_kernel:
                    first = scales.pop("first", 8.0)
                    scales["first"] = 1.0
                    for layer in trained.layers:
                        if _sees_the_data(layer) and hasattr(layer, "kernel"):
                            layer.kernel.assign(layer.kernel * first)
                            changes.append(f"{layer.name}: kernel x {first:g}")
                changes += scale_initial_weights(trained, **scales)
                print("  " + ", ".join(changes), flush=True)
        average = weight_average(trained, args.ema) if args.ema else None
        history = fit(trained, train_data, args, [*callbacks, *filter(None, [average])])
        if average is not None:
            average.assign()
        predictions = np.argmax(
            trained.predict(test_images, batch_size=500, verbose=0), 1
        )
        static = float(np.mean(predictions != test_labels))
        record = {"history": history, "static_error": static}
        line = f"| {variant} | {100 * static:.2f} |"
        if variant != "relu":
            start = time.perf_counter()
            hard, spiking = spiking_error(
                trained, task, test_images[:n_spiking], test_labels[:n_spiking]
            )
            same = float(np.mean(predictions[:n_spiking] != test_labels[:n_spiking]))
            record.update(
                spiking_error=float(spiking.error),
                static_error_same_images=same,
                converted_hard_rate_error=float(hard.error),
                spiking_rates=spiking.layer_rates,
                spiking_seconds=time.perf_counter() - start,
            )
            line += (
                f" {100 * spiking.error:.2f} | {100 * same:.2f} |"
                f" {100 * (spiking.error - same):+.2f} |"
            )
        else:
            line += " - | - | - |"
        line += f" {sum(h['seconds'] for h in history):.0f} |"
        rows.append(line)
        results[variant] = record
        print(
            f"  static {100 * static:.2f}%"
            + (
                f", spiking {100 * record['spiking_error']:.2f}% on {n_spiking} images "
                f"(static on those {100 * record['static_error_same_images']:.2f}%, "
                f"converted hard LIF rates {100 * record['converted_hard_rate_error']:.2f}%), "
                f"rates {({k: round(v, 1) for k, v in record['spiking_rates'].items()})}"
                if "spiking_error" in record
                else ""
            ),
            flush=True,
        )

    table = "\n".join(
        [
            f"{args.task}: {len(dataset.train_labels)} training images, "
            f"{args.epochs} epochs, minibatch {args.minibatch}, Adam {args.lr:g} "
            f"({_schedule(args)}); "
            f"static on {len(test_labels)} test images, spiking on {n_spiking}",
            "",
            "| model | static % | spiking % | static on spiking images % | gap | "
            "training s |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    others = sorted(set(results) - {"relu"}) if "relu" in results else []
    for variant in others:
        diff = results[variant]["static_error"] - results["relu"]["static_error"]
        table += f"\n\n{variant} static minus relu static: {100 * diff:+.2f} points"
    print("\n" + table, flush=True)
    if args.out:
        _common.write_results(args.out, table, {"args": vars(args), "results": results})
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
