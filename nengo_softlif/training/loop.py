"""Static training in nengo-dl, resumable from atomic per-epoch checkpoints.

The network is trained as a rate network (one time step per image, no synapses);
the training noise of its neurons acts only here (nengo-dl's training phase).
TensorFlow is imported only when :func:`train` runs.
"""

import contextlib
import dataclasses
import importlib
import os
import time

import numpy as np

from nengo_softlif.atomic import FileLock
from nengo_softlif.data.validate import checked_images, checked_labels
from nengo_softlif.network.architectures import INPUT
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    get_params,
    load_checkpoint,
    load_preprocessing,
    save_checkpoint,
    set_params,
)

# TrainConfig, the schedules and the engines (training.config) stay importable
# from this module, their former home
from nengo_softlif.training.config import (  # noqa: F401
    LR_SCHEDULES,
    TRAINING_ENGINES,
    TrainConfig,
)
from nengo_softlif.training.optimizer import make_optimizer
from nengo_softlif.training.settings import (
    RESUMABLE_CHANGES,
    settings_differences,
    training_settings,
)

__all__ = [
    "TrainResult",
    "ArrayData",
    "train",
    "make_optimizer",
    "RESUMABLE_CHANGES",
]


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


def input_layers(net):
    """The names of the weight layers that read the network's input."""
    params = get_params(net)
    architecture = net.architecture
    return [
        name
        for name, inputs in zip(
            architecture.layer_names(), architecture.layer_inputs(), strict=True
        )
        if inputs == (INPUT,) and f"{name}.weights" in params
    ]


def _init_scale(net, scale, first_layer_scale=1.0):
    """Multiply the initial weights of every hidden weight layer by ``scale``,
    and those of the layers that read the input by ``first_layer_scale`` too."""
    params = get_params(net)
    specs = dict(zip(net.layers, net.architecture.layers, strict=True))
    first = set(input_layers(net))
    for name, built in net.layers.items():
        linear = getattr(specs[name], "neurons", True) is False
        hidden = built.ensemble is not None or linear
        factor = (scale if hidden else 1.0) * (
            first_layer_scale if name in first else 1.0
        )
        if factor != 1 and f"{name}.weights" in params:
            params[f"{name}.weights"] = params[f"{name}.weights"] * factor
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


def _stop_epoch(config, start_epoch, max_epochs):
    """The epoch a call of :func:`train` stops at (``max_epochs``: a chunk)."""
    if max_epochs is None:
        return config.epochs
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    return min(config.epochs, start_epoch + int(max_epochs))


def _engine_options(net, data, config):
    """Keyword arguments of the engine beyond the network and the settings: the
    teachers' input offsets (`.teacher_input_offsets`), with teachers."""
    if not config.teachers:
        return {}
    from nengo_softlif.training.distillation import (  # noqa: PLC0415
        teacher_input_offsets,
    )

    offsets = teacher_input_offsets(config.teachers, data, net.architecture.input_shape)
    return {"teacher_offsets": offsets}


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
    engine_options = _engine_options(net, data, config)
    if fresh and (config.init_scale != 1 or config.first_layer_scale != 1):
        _init_scale(net, config.init_scale, config.first_layer_scale)
    stop_epoch = _stop_epoch(config, start_epoch, max_epochs)

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
                engine = _engine_class(config.engine)(
                    net, config, tf, nengo_dl, **engine_options
                )
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
