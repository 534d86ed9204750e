"""Static training in nengo-dl, resumable from atomic per-epoch checkpoints.

The network is trained as a rate network (one time step per image, no synapses);
the training noise of its neurons acts only here (nengo-dl's training phase).
TensorFlow is imported only when :func:`train` runs.
"""

import contextlib
import dataclasses
import importlib
import math
import os
import time

import numpy as np

from nengo_softlif.atomic import FileLock
from nengo_softlif.data.validate import checked_images, checked_labels
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_preprocessing,
    save_checkpoint,
    set_params,
)
from nengo_softlif.training.optimizer import make_optimizer
from nengo_softlif.training.settings import (
    RESUMABLE_CHANGES,
    settings_differences,
    training_settings,
)

__all__ = [
    "TrainConfig",
    "TrainResult",
    "ArrayData",
    "train",
    "LR_SCHEDULES",
    "TRAINING_ENGINES",
    "make_optimizer",
    "RESUMABLE_CHANGES",
]


def _constant(epoch, epochs):
    return 1.0


def _cosine(epoch, epochs):
    return 0.5 * (1 + math.cos(math.pi * min(epoch / max(epochs, 1), 1.0)))


def _step(epoch, epochs):
    # divide by 10 at 50% and 75% of training (cuda-convnet style)
    return 0.1 ** (int(epoch >= 0.5 * epochs) + int(epoch >= 0.75 * epochs))


#: Learning-rate schedules: name -> ``factor(epoch, epochs)``, where ``epoch`` is
#: the (fractional) number of epochs done when the step starts.
LR_SCHEDULES = {"constant": _constant, "cosine": _cosine, "step": _step}

_OPTIMIZERS = ("adam", "sgd", "rmsprop")

#: Training engines: name -> ``"module:class"`` (imported when used).
TRAINING_ENGINES = {
    "nengo-dl": "nengo_softlif.training.nengo_dl_engine:NengoDLEngine",
    "keras": "nengo_softlif.keras.engine:KerasEngine",
}


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
        Peak learning rate.
    lr_schedule : str
        One of :data:`LR_SCHEDULES`, evaluated before every step at the
        fractional epoch.
    momentum : float
        SGD momentum.
    seed : int
        Seed of the initialisation-independent randomness: data order,
        augmentation, training noise.
    warmup_epochs : float
        Linear learning-rate warm-up from 0 over this many epochs.
    weight_decay : float
        Decoupled weight decay (AdamW / SGDW style) on the weights (not biases).
    label_smoothing : float
        Label smoothing of the cross-entropy loss.
    init_scale : float
        Factor on the initial weights of every layer with neurons (fresh runs
        only): with the paper's bias at the threshold, it sets how far from the
        threshold the neurons start.
    engine : str
        ``"nengo-dl"`` (the network simulated by nengo-dl) or ``"keras"`` (the
        same network as a tf.keras model, `nengo_softlif.keras.keras_model`:
        the same computation, faster, with exactly resumable training noise).
    rate_penalty : float
        Weight (per Hz squared) of a firing-rate penalty added to the loss: the
        mean over the neuron layers of the mean squared rate above
        ``rate_target`` (``engine="keras"``). Lower rates mean fewer spikes,
        fewer synaptic events and less energy on neuromorphic hardware.
    rate_target : float
        Rates (Hz) up to which the penalty is zero.
    nesterov : bool
        Nesterov momentum (``optimizer="sgd"``).
    ema_decay : float
        Keep an exponential moving average of the parameters with this decay
        per step (0: off; ``engine="keras"``); the averaged parameters are the
        network's (what checkpoints hold, what is evaluated and converted),
        the raw ones stay in the checkpoint's training state. The decay is
        ``min(ema_decay, (1 + t) / (10 + t))`` at step ``t``, so that the
        average forgets the initial weights early in training.
    cutout : int
        Side in pixels of a square set to zero (the mean image, after mean
        subtraction) at a random position of every training image (0: off;
        image tasks).
    """

    epochs: int = 10
    minibatch_size: int = 100
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    seed: int = 0
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    init_scale: float = 1.0
    engine: str = "nengo-dl"
    rate_penalty: float = 0.0
    rate_target: float = 0.0
    nesterov: bool = False
    ema_decay: float = 0.0
    cutout: int = 0

    def __post_init__(self):
        for name in ("epochs", "minibatch_size", "seed", "cutout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if self.epochs < 0 or self.minibatch_size < 1 or self.seed < 0:
            raise ValueError(
                f"epochs and seed must be >= 0 and minibatch_size >= 1, got epochs="
                f"{self.epochs}, minibatch_size={self.minibatch_size}, seed={self.seed}"
            )
        if self.cutout < 0:
            raise ValueError(f"cutout must be >= 0 pixels, got {self.cutout}")
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"nesterov must be True or False, got {self.nesterov!r}")
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(
                f"nesterov applies to optimizer='sgd', not {self.optimizer!r}; "
                "set optimizer='sgd' or nesterov=False"
            )
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.engine not in TRAINING_ENGINES:
            raise ValueError(
                f"engine must be one of {sorted(TRAINING_ENGINES)}, got {self.engine!r}"
            )
        checks = {
            "learning_rate": (self.learning_rate, 0, True, None),
            "momentum": (self.momentum, 0, False, 1),
            "warmup_epochs": (self.warmup_epochs, 0, False, None),
            "weight_decay": (self.weight_decay, 0, False, None),
            "label_smoothing": (self.label_smoothing, 0, False, 1),
            "init_scale": (self.init_scale, 0, True, None),
            "rate_penalty": (self.rate_penalty, 0, False, None),
            "rate_target": (self.rate_target, 0, False, None),
            "ema_decay": (self.ema_decay, 0, False, 1),
        }
        for name, (value, low, low_open, high) in checks.items():
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(
                    f"TrainConfig {name} must be a number, got {value!r} (a "
                    f"{type(value).__name__}); e.g. {name}="
                    f"{TrainConfig.__dataclass_fields__[name].default!r}"
                )
            ok = np.isfinite(value) and (value > low if low_open else value >= low)
            if not ok or (high is not None and not value < high):
                bound = f"{'>' if low_open else '>='} {low}" + (
                    f" and < {high}" if high is not None else ""
                )
                raise ValueError(
                    f"TrainConfig {name} must be finite and {bound}, got {value}"
                )

    def learning_rate_at(self, epoch):
        """Learning rate of a step that starts after ``epoch`` (fractional) epochs."""
        factor = LR_SCHEDULES[self.lr_schedule](epoch, self.epochs)
        if self.warmup_epochs > 0:
            factor *= min(1.0, epoch / self.warmup_epochs)
        return self.learning_rate * factor


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
        Without ``augment``, preprocessed floats as `.evaluate` takes them
        (pixels on a 0-1 scale, minus the mean image if the task subtracts it).
    labels : ndarray of int
        Classes.
    augment : callable, optional
        ``augment(images, rng) -> float32 images`` applied each epoch (e.g.
        random crops and flips, mean subtraction). Without it, images are used
        as they are.
    preprocessing : dict of str -> ndarray, optional
        Arrays the images were prepared with (``{"mean_image": ...}``), saved
        with every checkpoint so that evaluation prepares test images the same
        way (see :func:`nengo_softlif.network.checkpoint.load_preprocessing`).
    classes : sequence of str, optional
        Class names in label order, saved with every checkpoint.
    """

    def __init__(self, images, labels, augment=None, preprocessing=None, classes=None):
        try:
            n_images, n_labels = len(images), len(labels)
        except TypeError:
            raise TypeError(
                f"ArrayData needs arrays of images and labels, got "
                f"{type(images).__name__} and {type(labels).__name__}"
            ) from None
        if n_images == 0:
            raise ValueError("ArrayData got no images: pass at least one minibatch")
        if n_images != n_labels:
            raise ValueError(
                f"{n_images} images but {n_labels} labels; they must match"
            )
        self.images, self.labels, self.augment = images, np.asarray(labels), augment
        self.preprocessing = dict(preprocessing or {})
        self.classes = None if classes is None else tuple(str(c) for c in classes)

    def __call__(self, epoch, rng):
        images = self.images if self.augment is None else self.augment(self.images, rng)
        images = np.asarray(images)
        what = "training images" + ("" if self.augment is None else " after augment")
        return checked_images(images, images.shape[1:], what), self.labels


def epoch_summary(entry, epochs):
    """One line for a finished epoch (a history entry of :func:`train`)."""
    accuracy = entry.get("accuracy")
    accuracy = "" if accuracy is None else f"  accuracy {accuracy:.4f}"
    return (
        f"epoch {entry['epoch']:>3}/{epochs}  loss {entry['loss']:.4f}{accuracy}  "
        f"lr {entry['learning_rate']:.2e}  {entry['seconds']:.0f} s"
    )


def _engine_class(name):
    module, cls = TRAINING_ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def _init_scale(net, scale):
    """Multiply the initial weights of every hidden weight layer by ``scale``."""
    from nengo_softlif.network.checkpoint import get_params, set_params  # noqa: PLC0415

    params = get_params(net)
    specs = dict(zip(net.layers, net.architecture.layers, strict=True))
    for name, built in net.layers.items():
        linear = getattr(specs[name], "neurons", True) is False
        hidden = built.ensemble is not None or linear
        if hidden and f"{name}.weights" in params:
            params[f"{name}.weights"] = params[f"{name}.weights"] * scale
    set_params(net, params)


def _cutout(net, images, size, rng):
    """Flattened training images with a cutout square each (`.TrainConfig.cutout`)."""
    from nengo_softlif.data.preprocess import cutout  # noqa: PLC0415

    shape = tuple(net.architecture.input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"cutout needs image inputs (height, width, channels); this network's "
            f"input shape is {shape}: set cutout=0"
        )
    if size > min(shape[:2]):
        raise ValueError(
            f"cutout={size} is larger than the {shape[0]}x{shape[1]} input images; "
            "choose a smaller square"
        )
    cut = cutout(np.reshape(images, (len(images),) + shape), size, rng)
    return cut.reshape(len(images), -1)


def train(
    net,
    data,
    config=TrainConfig(),
    checkpoint_path=None,
    resume=True,
    callbacks=(),
    verbose=1,
    keras_callbacks=(),
    max_epochs=None,
):
    """Train a network's parameters, checkpointing every epoch.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        The rate network; its parameters are updated in place (frozen into the
        nengo objects) after every epoch.
    data : callable
        ``data(epoch, rng) -> (images (n, input_size) float32, labels (n,))``,
        e.g. an :class:`ArrayData`. ``rng`` is seeded by ``(config.seed,
        epoch)``, so an epoch's data is the same whether or not the run was
        resumed.
    config : `.TrainConfig`
    checkpoint_path : str, optional
        Where to save after every epoch (atomically): the parameters, the
        optimizer state and the training settings. With ``resume=True`` and an
        existing file, training continues from its epoch; settings that differ
        from the checkpoint's (other than ``epochs``) are refused.
    resume : bool
        Continue from ``checkpoint_path`` if it exists (False: start again and
        overwrite it).
    callbacks : sequence of callable
        ``callback(epoch, sim, net)`` before every epoch (e.g.
        :class:`nengo_softlif.training.anneal.SigmaAnnealing`). A
        ``step_callback(epoch, steps_per_epoch, sim, net)`` method, if present,
        returns a Keras callback (or None) for that epoch's ``sim.fit``, run
        before ``keras_callbacks``; an ``on_train_end(net)`` method, if
        present, is called at the end, also when training stops with an error.
        With ``engine="keras"`` a callback needs a ``sigma_for_step`` method (as
        `.SigmaAnnealing` has).
    verbose : int
        0 silent; 1 a progress line on a terminal and one line per finished
        epoch; 2 one line per finished epoch only.
    keras_callbacks : sequence of ``tf.keras.callbacks.Callback``
        Passed to every ``sim.fit`` (nengo-dl engine only).
    max_epochs : int, optional
        Stop after this many epochs in this call (a chunk of a longer run, to
        resume later); the learning-rate schedule is still that of
        ``config.epochs``.

    Returns
    -------
    TrainResult
    """
    _check_train_arguments(net, data, config)
    lock = (  # one run at a time writes a checkpoint
        contextlib.nullcontext()
        if checkpoint_path is None
        else FileLock(checkpoint_path, what="training into")
    )
    with lock:
        return _train(
            net,
            data,
            config,
            checkpoint_path,
            resume,
            callbacks,
            verbose,
            keras_callbacks,
            max_epochs,
        )


def _check_train_arguments(net, data, config):
    """Refuse arguments of the wrong kind before any work, naming the fix."""
    if not hasattr(net, "architecture") or not hasattr(net, "inp"):
        raise TypeError(
            f"net must be a network from build_network (or load_network, "
            f"from_keras), got {type(net).__name__}"
        )
    if not callable(data):
        hint = (
            "; wrap arrays as ArrayData(images, labels)"
            if isinstance(data, (tuple, list, np.ndarray))
            else ""
        )
        raise TypeError(
            "data must be a callable data(epoch, rng) -> (images, labels), such "
            f"as ArrayData(images, labels); got a {type(data).__name__}{hint}"
        )
    if not isinstance(config, TrainConfig):
        raise TypeError(
            f"config must be a TrainConfig (e.g. TrainConfig(epochs=10)), got a "
            f"{type(config).__name__}; a dict can be passed as TrainConfig(**values)"
        )


def _epoch_data(net, data, epoch, rng, config):
    """One epoch's checked images (float32, flattened, cut out) and labels."""
    images, labels = data(epoch, rng)
    images = checked_images(
        images,
        net.architecture.input_shape,
        what=f"training images of epoch {epoch + 1}",
    )
    labels = checked_labels(
        labels, images.shape[0], net.out.size_out, what="training labels"
    )
    if len(images) < config.minibatch_size:
        raise ValueError(
            f"{len(images)} training images is fewer than one minibatch "
            f"({config.minibatch_size}); lower minibatch_size"
        )
    if config.cutout:
        images = _cutout(net, images, config.cutout, rng)
    return images, labels


def _check_same_data(checkpoint_path, meta, data):
    """Refuse to resume a run on data of other classes or another mean image."""
    stored, classes = meta.get("classes"), getattr(data, "classes", None)
    if stored is not None and classes is not None and list(classes) != stored:
        raise CheckpointError(
            f"Checkpoint {checkpoint_path} was trained on the classes {stored}, "
            f"but the data's classes are {list(classes)}; resume with the same "
            "data, or train into another output to start a new run"
        )
    mean = (getattr(data, "preprocessing", None) or {}).get("mean_image")
    stored = load_preprocessing(checkpoint_path).get("mean_image")
    if (
        mean is not None
        and stored is not None
        and not (
            np.shape(mean) == stored.shape and np.allclose(mean, stored, atol=1e-5)
        )
    ):
        raise CheckpointError(
            f"Checkpoint {checkpoint_path} was trained on other training images "
            "(the mean image it stores differs from this data's); resume with the "
            "same data (--data-dir, --train-images, --image-size), or train into "
            "another output to start a new run"
        )


def _resume(net, checkpoint_path, settings, data):
    """Load a checkpoint to go on from: (history, epochs done, training state).

    Raises `.CheckpointError` if it was trained with another architecture or
    other settings (then nothing in ``net`` is changed).
    """
    from nengo_softlif.network.architectures import architecture_difference  # noqa
    from nengo_softlif.network.checkpoint import load_training_state  # noqa: PLC0415

    params, meta = load_checkpoint(checkpoint_path)
    difference = architecture_difference(meta["architecture"], net.architecture)
    if difference:
        raise CheckpointError(
            f"Checkpoint {checkpoint_path} is for another architecture ({difference}): "
            "resume with its task and pool edges, or give another output folder"
        )
    stored = meta["state"].get("settings") or {
        "train_config": meta["state"].get("config", {})
    }
    diffs = settings_differences(stored, settings)
    if diffs:
        raise CheckpointError(
            f"Checkpoint {checkpoint_path} was trained with other settings: "
            + "; ".join(diffs)
            + ". Resume with the checkpoint's settings, or train into another "
            "output (or with resume=False) to start a new run"
        )
    _check_same_data(checkpoint_path, meta, data)
    set_params(net, params)
    start_epoch = int(meta["state"].get("epoch", 0))
    history = list(meta["state"].get("history", []))
    saved_state = load_training_state(checkpoint_path)
    return history, start_epoch, saved_state


def _train(
    net,
    data,
    config,
    checkpoint_path,
    resume,
    callbacks,
    verbose,
    keras_callbacks,
    max_epochs,
):
    settings = training_settings(net, config, callbacks)
    history, start_epoch, saved_state, fresh = [], 0, {}, True
    if checkpoint_path and resume and os.path.exists(checkpoint_path):
        history, start_epoch, saved_state = _resume(
            net, checkpoint_path, settings, data
        )
        fresh = False
    if start_epoch >= config.epochs:
        return TrainResult(history, 0, 0.0)
    if fresh and config.init_scale != 1:
        _init_scale(net, config.init_scale)
    stop_epoch = config.epochs
    if max_epochs is not None:
        if max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
        stop_epoch = min(config.epochs, start_epoch + int(max_epochs))

    from nengo_softlif.compat import import_nengo_dl  # pylint: disable=C0415

    nengo_dl = import_nengo_dl()
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    start = time.perf_counter()
    engine = None
    try:
        for epoch in range(start_epoch, stop_epoch):
            rng = np.random.default_rng([config.seed, epoch])
            images, labels = _epoch_data(net, data, epoch, rng, config)
            n = (len(images) // config.minibatch_size) * config.minibatch_size
            if engine is None:  # built once the first epoch's data is checked
                engine = _engine_class(config.engine)(net, config, tf, nengo_dl)
                engine.load_state(saved_state)
            order = rng.permutation(len(images))[:n]
            steps = n // config.minibatch_size

            def lr_at(step, epoch=epoch, steps=steps):
                return config.learning_rate_at(epoch + step / steps)

            t0 = time.perf_counter()
            logs = engine.train_epoch(
                epoch,
                images[order],
                labels[order],
                lr_at,
                callbacks,
                verbose,
                keras_callbacks,
            )
            if not np.isfinite(logs["loss"]):
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch + 1} (loss {logs['loss']}); "
                    "lower the learning rate"
                )
            entry = {
                "epoch": epoch + 1,
                "loss": logs["loss"],
                "accuracy": logs["accuracy"],
                "learning_rate": lr_at(0),
                "seconds": time.perf_counter() - t0,
            }
            history.append(entry)
            try:
                engine.sync(net)
            except CheckpointError:  # NaN or inf weights, a finite mean loss
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch + 1} (the weights became NaN "
                    "or inf); lower the learning rate"
                ) from None
            if checkpoint_path:
                save_checkpoint(
                    checkpoint_path,
                    net,
                    training_state=engine.state_arrays(),
                    preprocessing=getattr(data, "preprocessing", None),
                    classes=getattr(data, "classes", None),
                    epoch=epoch + 1,
                    history=history,
                    config=dataclasses.asdict(config),
                    settings=settings,
                )
            if verbose:
                print(epoch_summary(entry, config.epochs), flush=True)
    finally:  # also on errors: e.g. SigmaAnnealing resets nengo-dl's sigma scale
        if engine is not None:
            engine.close()
        for callback in callbacks:
            if hasattr(callback, "on_train_end"):
                callback.on_train_end(net)
    return TrainResult(history, stop_epoch - start_epoch, time.perf_counter() - start)
