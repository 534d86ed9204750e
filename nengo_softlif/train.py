"""Static training in nengo-dl, resumable from atomic per-epoch checkpoints.

The network is trained as a rate network (one time step per image, no synapses);
the training noise of its neurons acts only here (nengo-dl's training phase).
TensorFlow is imported only when :func:`train` runs.
"""

import dataclasses
import json
import math
import os
import time

import numpy as np

from nengo_softlif.checkpoint import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    set_params,
)

__all__ = ["TrainConfig", "TrainResult", "ArrayData", "train", "LR_SCHEDULES"]


def _constant(epoch, epochs):
    return 1.0


def _cosine(epoch, epochs):
    return 0.5 * (1 + math.cos(math.pi * epoch / max(epochs, 1)))


def _step(epoch, epochs):
    # divide by 10 at 50% and 75% of training (cuda-convnet style)
    return 0.1 ** (int(epoch >= 0.5 * epochs) + int(epoch >= 0.75 * epochs))


#: Learning-rate schedules: name -> ``factor(epoch, epochs)``.
LR_SCHEDULES = {"constant": _constant, "cosine": _cosine, "step": _step}

_OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (the defaults are ours; see the docs for the paper's).

    Parameters
    ----------
    epochs : int
        Total number of epochs (resuming continues up to this number).
    minibatch_size : int
        Images per gradient step.
    optimizer : str
        ``"adam"``, ``"sgd"`` (with ``momentum``) or ``"rmsprop"``.
    learning_rate : float
        Initial learning rate.
    lr_schedule : str
        One of :data:`LR_SCHEDULES`.
    momentum : float
        SGD momentum.
    seed : int
        Seed of the simulator (noise, dropout) and of the data order.
    """

    epochs: int = 10
    minibatch_size: int = 100
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 0 or self.minibatch_size < 1:
            raise ValueError("epochs must be >= 0 and minibatch_size >= 1")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


@dataclasses.dataclass
class TrainResult:
    """History of a training run: per-epoch loss, accuracy, time, learning rate."""

    history: list
    epochs_run: int
    wall_time: float


class ArrayData:
    """Training data given as arrays, optionally re-augmented every epoch.

    Parameters
    ----------
    images : ndarray
        Training images (any layout ``augment`` accepts; flattened after it).
    labels : ndarray of int
        Classes.
    augment : callable, optional
        ``augment(images, rng) -> float32 images`` applied each epoch (e.g.
        random crops and flips, mean subtraction). Without it, images are used
        as they are.
    """

    def __init__(self, images, labels, augment=None):
        if len(images) != len(labels):
            raise ValueError(
                f"{len(images)} images but {len(labels)} labels; they must match"
            )
        self.images, self.labels, self.augment = images, np.asarray(labels), augment

    def __call__(self, epoch, rng):
        images = self.images if self.augment is None else self.augment(self.images, rng)
        flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        if not np.all(np.isfinite(flat)):
            raise ValueError("Training images contain NaN or inf; clean the data first")
        return flat, self.labels


def _make_optimizer(tf, config):
    if config.optimizer == "adam":
        return tf.optimizers.Adam(config.learning_rate)
    if config.optimizer == "rmsprop":
        return tf.optimizers.RMSprop(config.learning_rate)
    return tf.optimizers.SGD(config.learning_rate, momentum=config.momentum)


def train(
    net,
    data,
    config=TrainConfig(),
    checkpoint_path=None,
    resume=True,
    callbacks=(),
    verbose=1,
    keras_callbacks=(),
):
    """Train a network's parameters in nengo-dl, checkpointing every epoch.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        The rate network; its parameters are updated in place (frozen into the
        nengo objects) after every epoch.
    data : callable
        ``data(epoch, rng) -> (images (n, input_size) float32, labels (n,))``,
        e.g. an :class:`ArrayData`.
    config : `.TrainConfig`
    checkpoint_path : str, optional
        Where to save after every epoch (atomically). With ``resume=True`` and
        an existing file, training continues from its epoch (the optimizer's
        moment estimates restart).
    callbacks : sequence of callable
        ``callback(epoch, sim, net)`` before every epoch (e.g.
        :class:`nengo_softlif.anneal.SigmaAnnealing`). A
        ``step_callback(epoch, steps_per_epoch, sim, net)`` method, if present,
        returns a Keras callback (or None) for that epoch's ``sim.fit``, run
        before ``keras_callbacks``; an ``on_train_end(net)`` method, if
        present, is called at the end, also when training stops with an error.
    verbose : int
        Keras verbosity (0 silent, 1 progress bar, 2 one line per epoch).
    keras_callbacks : sequence of ``tf.keras.callbacks.Callback``
        Passed to every ``sim.fit`` (e.g. TensorBoard, or a step timer).

    Returns
    -------
    TrainResult
    """
    from nengo_softlif.compat import import_nengo_dl  # pylint: disable=C0415

    nengo_dl = import_nengo_dl()
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    history, start_epoch = [], 0
    if checkpoint_path and resume and os.path.exists(checkpoint_path):
        params, meta = load_checkpoint(checkpoint_path)
        if meta["architecture"] != net.architecture.to_dict():
            raise CheckpointError(
                f"Checkpoint {checkpoint_path} is for architecture "
                f"{meta['architecture']['name']!r}, not {net.architecture.name!r}; "
                "use another checkpoint path or resume=False"
            )
        set_params(net, params)
        start_epoch = int(meta["state"].get("epoch", 0))
        history = list(meta["state"].get("history", []))
    schedule = LR_SCHEDULES[config.lr_schedule]
    rng = np.random.default_rng([config.seed, start_epoch])
    start = time.perf_counter()
    if start_epoch >= config.epochs:
        return TrainResult(history, 0, 0.0)
    try:
        with nengo_dl.Simulator(
            net,
            minibatch_size=config.minibatch_size,
            seed=config.seed,
            progress_bar=False,
        ) as sim:
            sim.compile(
                optimizer=_make_optimizer(tf, config),
                loss={
                    net.out_probe: tf.losses.SparseCategoricalCrossentropy(
                        from_logits=True
                    )
                },
                metrics={net.out_probe: tf.metrics.sparse_categorical_accuracy},
            )
            for epoch in range(start_epoch, config.epochs):
                for callback in callbacks:
                    callback(epoch, sim, net)
                lr = config.learning_rate * schedule(epoch, config.epochs)
                tf.keras.backend.set_value(sim.keras_model.optimizer.learning_rate, lr)
                images, labels = data(epoch, rng)
                n = (len(images) // config.minibatch_size) * config.minibatch_size
                if n == 0:
                    raise ValueError(
                        f"{len(images)} training images is fewer than one minibatch "
                        f"({config.minibatch_size}); lower minibatch_size"
                    )
                steps = n // config.minibatch_size
                step_callbacks = [
                    c.step_callback(epoch, steps, sim, net)
                    for c in callbacks
                    if hasattr(c, "step_callback")
                ]
                t0 = time.perf_counter()
                fit = sim.fit(
                    {net.inp: images[:n, None, :]},
                    {net.out_probe: labels[:n, None, None]},
                    epochs=1,
                    verbose=verbose,
                    callbacks=[c for c in step_callbacks if c is not None]
                    + list(keras_callbacks),
                )
                logs = {k: float(v[-1]) for k, v in fit.history.items()}
                loss = next(v for k, v in logs.items() if k.endswith("loss"))
                if not np.isfinite(loss):
                    raise FloatingPointError(
                        f"Training diverged at epoch {epoch + 1} (loss {loss}); lower the "
                        "learning rate"
                    )
                entry = {
                    "epoch": epoch + 1,
                    "loss": loss,
                    "accuracy": next(
                        (v for k, v in logs.items() if k.endswith("accuracy")), None
                    ),
                    "learning_rate": lr,
                    "seconds": time.perf_counter() - t0,
                }
                history.append(entry)
                sim.freeze_params(net)
                if checkpoint_path:
                    save_checkpoint(
                        checkpoint_path,
                        net,
                        epoch=epoch + 1,
                        history=history,
                        config=dataclasses.asdict(config),
                    )
                if verbose:
                    print(json.dumps(entry), flush=True)
    finally:  # also on errors: e.g. SigmaAnnealing resets nengo-dl's sigma scale
        for callback in callbacks:
            if hasattr(callback, "on_train_end"):
                callback.on_train_end(net)
    return TrainResult(
        history, config.epochs - start_epoch, time.perf_counter() - start
    )
