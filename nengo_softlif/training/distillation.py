"""Training against trained networks' outputs (knowledge distillation).

With `.TrainConfig` ``teachers`` (checkpoints of trained networks, or Keras models,
that read the same images and give the same classes), every training step also runs
the teachers on the step's images (networks as rate networks, without training
noise) and adds to the loss the
Kullback-Leibler divergence of the network's class probabilities from the
teachers' mean class probabilities, both at the temperature
`.TrainConfig` ``distill_temperature`` (Hinton et al. 2015, *Distilling the
knowledge in a neural network*):

``loss = (1 - w) * cross_entropy(labels) + w * T**2 * KL(teachers || network)``

with ``w`` = `.TrainConfig` ``distill_weight`` and ``T`` the temperature. The
teachers see the same augmented images as the network, so every random crop
gets the teachers' answer for that crop, and each checkpoint teacher is given
the images prepared with its own mean image (`teacher_input_offsets`); a Keras
teacher (any model, e.g. a ReLU network with batch normalization and residual
blocks, saved with ``model.save``) is given the images as the network is. Only
the training changes: the trained network has its own architecture and neurons
(an ensemble of networks as teacher, one network as student). Only
``engine="keras"``.
"""

import os

import numpy as np

__all__ = [
    "KERAS_SUFFIXES",
    "distillation_loss",
    "is_keras_teacher",
    "load_teachers",
    "teacher_digests",
    "teacher_input_offsets",
]


#: File name endings of teachers given as Keras models (``model.save``).
KERAS_SUFFIXES = (".keras", ".h5")


def is_keras_teacher(path):
    """Whether the teacher ``path`` is a Keras model file (not a checkpoint)."""
    return os.fspath(path).lower().endswith(KERAS_SUFFIXES)


def _check_exist(paths):
    missing = [os.fspath(p) for p in paths if not os.path.isfile(os.fspath(p))]
    if missing:
        raise FileNotFoundError(
            f"teacher file(s) not found: {missing}; give the checkpoints of "
            "trained networks (e.g. runs/NAME/checkpoint.npz), Keras models saved "
            "with model.save (.keras, .h5), or drop the teachers"
        )


def _ends_in_softmax(tf, model):
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return isinstance(last, tf.keras.layers.Softmax) or (
        activation is not None and activation is tf.keras.activations.softmax
    )


def _keras_teacher(path, shape, classes):
    """The Keras model saved at ``path`` as a teacher of flattened images."""
    import tensorflow as tf  # noqa: PLC0415

    from nengo_softlif.network.checkpoint import CheckpointError  # noqa: PLC0415

    try:
        model = tf.keras.models.load_model(os.fspath(path), compile=False)
    except (OSError, ValueError, TypeError) as err:
        raise CheckpointError(
            f"teacher {path}: not a Keras model tf.keras can load ({err}); save "
            "the teacher with model.save('teacher.keras') in this environment"
        ) from err
    reads = tuple(model.input_shape[1:])
    size = int(np.prod(shape))
    if reads not in ((size,), tuple(shape)) or model.output_shape[1:] != (classes,):
        raise CheckpointError(
            f"teacher {path} reads input {reads} and gives "
            f"{model.output_shape[1:]}; the network being trained reads {shape} "
            f"(or flattened, ({size},)) and gives {classes} class scores: give a "
            "teacher trained on the same task"
        )
    if _ends_in_softmax(tf, model):
        raise CheckpointError(
            f"teacher {path} ends in a softmax; a teacher gives class scores "
            "(logits): save the model without its last softmax"
        )
    if reads == (size,):
        return model
    shape = tuple(shape)
    return lambda x, training=False: model(
        tf.reshape(x, (-1, *shape)), training=training
    )


def load_teachers(paths, net):
    """The teachers ``paths`` as Keras models of flattened images, checked
    against ``net``.

    Parameters
    ----------
    paths : sequence of str
        Checkpoints (`.save_checkpoint` files, such as a ``checkpoint.npz`` of
        ``nengo-softlif train`` or a shipped network), run as rate networks
        without training noise; or Keras models saved with ``model.save``
        (``.keras`` or ``.h5`` files, see `KERAS_SUFFIXES`) that read the images
        as the network being trained reads them (prepared the same way,
        flattened or in their shape) and give class scores (logits) in the
        data's class order.
    net : `.SoftLIFNetwork`
        The network being trained: every teacher must read its input shape and
        give its number of classes.

    Returns
    -------
    list of callable
        ``teacher(x, training=False)`` gives the class scores of a minibatch of
        flattened images ``x``.

    Raises
    ------
    FileNotFoundError, `.CheckpointError`
        A missing file, a teacher of another input or number of classes, or a
        Keras teacher that ends in a softmax.
    """
    from nengo_softlif.keras import keras_model  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        CheckpointError,
        load_network,
    )

    _check_exist(paths)
    shape, classes = tuple(net.architecture.input_shape), net.out.size_out
    teachers = []
    for path in paths:
        if is_keras_teacher(path):
            teachers.append(_keras_teacher(path, shape, classes))
            continue
        teacher, _ = load_network(os.fspath(path))
        got = (tuple(teacher.architecture.input_shape), teacher.out.size_out)
        if got != (shape, classes):
            raise CheckpointError(
                f"teacher {path} reads input {got[0]} and gives {got[1]} classes; "
                f"the network being trained reads {shape} and gives {classes}: give "
                "teachers trained on the same task"
            )
        teachers.append(keras_model(teacher))
    return teachers


def teacher_digests(paths):
    """The content digest of every teacher (stored with the run's settings, so
    that a run resumes only with the same teachers, wherever their files are)."""
    from nengo_softlif.network.checkpoint import checkpoint_digest  # noqa: PLC0415

    _check_exist(paths)
    return [checkpoint_digest(os.fspath(p)) for p in paths]


def teacher_input_offsets(paths, data, input_shape):
    """What to add to the training images so that every teacher sees its own input.

    A training image is prepared with the training data's mean image
    (``data.preprocessing["mean_image"]``, or none); a teacher expects images
    prepared with the mean image its checkpoint stores (or none). Adding the
    difference gives each teacher exactly the image it would have been given.

    Parameters
    ----------
    paths : sequence of str
        The teachers' checkpoints.
    data : `.ArrayData` or callable
        The training data (its ``preprocessing`` and ``classes``, if it has them).
    input_shape : tuple of int
        The network's input shape.

    Returns
    -------
    list of ndarray or None
        Per teacher, the flattened offset (None: the same preparation, nothing
        to add).

    Raises
    ------
    `.CheckpointError`
        A teacher trained on classes in another order than the data's, or with
        a mean image of another shape.
    """
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        CheckpointError,
        load_checkpoint,
        load_preprocessing,
    )

    own = (getattr(data, "preprocessing", None) or {}).get("mean_image")
    classes = getattr(data, "classes", None)
    offsets = []
    for path in paths:
        if is_keras_teacher(path):  # reads the images as the network does
            offsets.append(None)
            continue
        stored = load_checkpoint(os.fspath(path))[1].get("classes")
        if stored is not None and classes is not None and list(classes) != stored:
            raise CheckpointError(
                f"teacher {path} was trained on the classes {stored}, in this "
                f"order; the training data's are {list(classes)}: give teachers "
                "trained on the same classes in the same order"
            )
        theirs = load_preprocessing(os.fspath(path)).get("mean_image")
        for mean in (own, theirs):
            if mean is not None and np.size(mean) != np.prod(input_shape):
                raise CheckpointError(
                    f"teacher {path}: a mean image of shape {np.shape(mean)} for "
                    f"inputs of shape {tuple(input_shape)}; give teachers trained "
                    "on images of this size"
                )
        if own is None and theirs is None:
            offsets.append(None)
            continue
        offset = (0.0 if own is None else np.asarray(own, np.float64)) - (
            0.0 if theirs is None else np.asarray(theirs, np.float64)
        )
        offset = np.reshape(offset, -1).astype(np.float32)
        offsets.append(offset if np.any(offset) else None)  # None: nothing to add
    return offsets


def distillation_loss(tf, teachers, temperature, weight, offsets=None):
    """``loss(x, logits, hard_loss)``: the distillation loss of a training step.

    Parameters
    ----------
    tf : module
        TensorFlow.
    teachers : sequence of callable
        The teachers as Keras models of flattened images (`load_teachers`), run
        with ``training=False``.
    temperature : float
        Temperature of both softmaxes.
    weight : float
        Weight of the divergence term; the cross-entropy ``hard_loss`` has
        ``1 - weight``.
    offsets : sequence of ndarray or None, optional
        Added to the images each teacher is given (`teacher_input_offsets`).

    Returns
    -------
    callable
    """
    temperature, weight = float(temperature), float(weight)
    offsets = [None] * len(teachers) if offsets is None else list(offsets)
    if len(offsets) != len(teachers):
        raise ValueError(f"{len(offsets)} offsets for {len(teachers)} teachers")

    def answer(teacher, x, offset):
        logits = teacher(x if offset is None else x + offset, training=False)
        return tf.nn.softmax(tf.stop_gradient(logits) / temperature)

    def loss(x, logits, hard_loss):
        probs = tf.add_n(
            [answer(t, x, o) for t, o in zip(teachers, offsets, strict=True)]
        ) / len(teachers)
        log_q = tf.nn.log_softmax(logits / temperature)
        log_p = tf.math.log(tf.maximum(probs, 1e-12))
        divergence = tf.reduce_mean(tf.reduce_sum(probs * (log_p - log_q), -1))
        return (1.0 - weight) * hard_loss + weight * temperature**2 * divergence

    return loss
