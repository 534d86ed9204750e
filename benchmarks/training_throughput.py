"""Training time per epoch: the package's nengo-dl training against plain tf.keras.

Both sides train the paper's network (``--arch mnist`` or ``cifar10``) with soft
LIF neurons (sigma 0.02), Gaussian training noise (std 10 Hz, where J > 1,
straight-through gradient), dropout where the architecture has it, Adam, sparse
softmax cross-entropy, minibatches of 100, on random images:

``nengo-dl``
    :func:`nengo_softlif.training.loop.train` (what ``nengo-softlif train`` runs): a
    nengo network of ensembles and connections simulated by nengo-dl for one step
    per image.
``keras``
    The same network as a tf.keras model (:func:`nengo_softlif.keras.keras_model`:
    the same currents, soft LIF function, noise and read-out), trained with
    ``model.fit``.
``keras engine``
    ``train(..., TrainConfig(engine="keras"))``: that model trained by the
    package's own loop (exact resume, checkpoints); its step time is its epoch
    time over the steps.

Each configuration runs in its own subprocess (its peak RSS is its own). The
first epoch includes graph tracing, so ``--epochs 2`` (default) reports the
second epoch's time; the ratio is nengo-dl / keras seconds per epoch. Both sides
report the same training-accuracy metric. A Keras callback also times every
step, so the median step time (the cost that grows with the data set) is
reported apart from the time an epoch spends outside its steps (``fit`` set-up
and tear-down, a fixed cost per ``fit`` call).

``--ablate`` adds nengo-dl variants that locate the overhead: rectified-linear
neurons instead of soft LIF (neuron cost), and no training noise.

Examples
--------
::

    python benchmarks/training_throughput.py --arch mnist --n-images 6000
    python benchmarks/training_throughput.py --arch cifar10 --n-images 5000 --ablate
"""

import argparse
import json
import os
import time

from _common import rss_mb, run_worker

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


BATCH = 100


def _data(architecture, n_images, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.uniform(size=(n_images, int(np.prod(architecture.input_shape))))
    labels = rng.integers(0, architecture.layers[-1].units, size=n_images)
    return images.astype(np.float32), labels


def _network(arch, neuron, noise):
    from nengo_softlif import RectifiedLinear, parse_noise
    from nengo_softlif.network.architectures import build_network
    from nengo_softlif.neurons.softlif import PRESETS

    preset = PRESETS[arch]
    if neuron == "relu":
        neuron_type = RectifiedLinear(noise=parse_noise(noise))
    else:
        neuron_type = preset.soft_lif(sigma=0.02, noise=parse_noise(noise))
    return build_network(arch, neuron_type=neuron_type, lif_params=arch)


def step_timer():
    """A Keras callback that records the wall time of every training step."""
    import tensorflow as tf

    class StepTimer(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs = []  # per fit epoch: list of step seconds

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append([])

        def on_train_batch_begin(self, batch, logs=None):
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.epochs[-1].append(time.perf_counter() - self.t0)

    return StepTimer()


def run_train(config):
    """Epoch and step times of the package's training (nengo_softlif.training.loop.train)."""
    import tempfile

    from nengo_softlif.training.loop import ArrayData, TrainConfig, train

    net = _network(config["arch"], config["neuron"], config["noise"])
    images, labels = _data(net.architecture, config["n_images"])
    engine = config.get("engine", "nengo-dl")
    timer = step_timer() if engine == "nengo-dl" else None
    with tempfile.TemporaryDirectory() as tmp:
        result = train(
            net,
            ArrayData(images, labels),
            TrainConfig(epochs=config["epochs"], minibatch_size=BATCH, engine=engine),
            checkpoint_path=os.path.join(tmp, "checkpoint.npz"),
            verbose=0,
            keras_callbacks=[timer] if timer else (),
        )
    seconds = [h["seconds"] for h in result.history]
    if timer is None:  # the Keras engine's steps are its whole epoch
        steps = len(images) // BATCH
        return seconds, [[s / steps] * steps for s in seconds]
    return seconds, timer.epochs


def run_keras(config):
    """Epoch times of the same network in plain tf.keras."""
    import tensorflow as tf

    from nengo_softlif.keras import keras_model

    net = _network(config["arch"], config["neuron"], config["noise"])
    architecture = net.architecture
    model = keras_model(net)
    model.compile(
        tf.optimizers.Adam(1e-3),
        tf.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.metrics.sparse_categorical_accuracy],  # as train() reports
    )
    images, labels = _data(architecture, config["n_images"])
    seconds = []
    timer = step_timer()
    for _ in range(config["epochs"]):
        start = time.perf_counter()
        model.fit(
            images,
            labels,
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            shuffle=True,
            callbacks=[timer],
        )
        seconds.append(time.perf_counter() - start)
    return seconds, timer.epochs


def worker(config):
    runner = run_keras if config["backend"] == "keras" else run_train
    import numpy as np

    seconds, steps = runner(config)
    last = steps[-1]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "step_s_median": float(np.median(last)),
                # time of the last epoch not spent in its steps (fit set-up, data,
                # callbacks, tear-down)
                "outside_steps_s": seconds[-1] - float(np.sum(last)),
                "peak_rss_mb": rss_mb(),
            }
        )
    )


def run_config(config):
    """Run ``worker(config)`` in a fresh Python process (raises if it fails)."""
    result = run_worker(__file__, config)
    if "failure" in result:
        raise RuntimeError(f"{config} failed:\n{result['failure']}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mnist", choices=["mnist", "cifar10"])
    parser.add_argument("--n-images", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--ablate", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return None
    base = {"arch": args.arch, "n_images": args.n_images, "epochs": args.epochs}
    configs = {
        "keras": dict(base, backend="keras", neuron="softlif", noise="gaussian:10"),
        "nengo-dl": dict(
            base, backend="nengo-dl", neuron="softlif", noise="gaussian:10"
        ),
        "keras engine": dict(
            base,
            backend="train",
            engine="keras",
            neuron="softlif",
            noise="gaussian:10",
        ),
    }
    if args.ablate:
        configs["nengo-dl relu"] = dict(
            base, backend="nengo-dl", neuron="relu", noise="none"
        )
        configs["nengo-dl no noise"] = dict(
            base, backend="nengo-dl", neuron="softlif", noise="none"
        )
    results = {}
    for name, config in configs.items():
        result = run_config(config)
        result["s_per_epoch"] = result["seconds"][-1]
        result["images_per_s"] = args.n_images / result["s_per_epoch"]
        results[name] = result
        print(
            f"{args.arch:8s} {name:18s} {result['s_per_epoch']:8.1f} s/epoch of "
            f"{args.n_images} ({result['images_per_s']:6.1f} img/s), median step "
            f"{result['step_s_median']:.3f} s, outside steps "
            f"{result['outside_steps_s']:.1f} s, peak RSS "
            f"{result['peak_rss_mb']:7.0f} MB",
            flush=True,
        )
    keras = results["keras"]["s_per_epoch"]
    keras_step = results["keras"]["step_s_median"]
    for name, result in results.items():
        if name != "keras":
            print(
                f"ratio {name} / keras: {result['s_per_epoch'] / keras:.2f}x per "
                f"epoch, {result['step_s_median'] / keras_step:.2f}x per step"
            )
    full = {"mnist": 60000, "cifar10": 50000}[args.arch]
    print(
        f"full epoch ({full} images) estimate: nengo-dl "
        f"{results['nengo-dl']['s_per_epoch'] * full / args.n_images / 60:.1f} min, "
        f"keras {keras * full / args.n_images / 60:.1f} min"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
