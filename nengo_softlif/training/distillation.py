"""Training against trained networks' outputs (knowledge distillation).

With `.TrainConfig` ``teachers`` (checkpoints of trained networks that read the same
images and give the same classes), every training step also runs the teachers on
the step's images (as evaluated: no training noise) and adds to the loss the
Kullback-Leibler divergence of the network's class probabilities from the
teachers' mean class probabilities, both at the temperature
`.TrainConfig` ``distill_temperature`` (Hinton et al. 2015, *Distilling the
knowledge in a neural network*):

``loss = (1 - w) * cross_entropy(labels) + w * T**2 * KL(teachers || network)``

with ``w`` = `.TrainConfig` ``distill_weight`` and ``T`` the temperature. The
teachers see the same augmented images as the network, so every random crop
gets the teachers' answer for that crop. Only the training changes: the trained
network has its own architecture and neurons (an ensemble of networks as
teacher, one network as student). Only ``engine="keras"``.
"""

import os

import numpy as np

__all__ = [
    "check_teacher_data",
    "distillation_loss",
    "load_teachers",
    "teacher_digests",
]


def _check_exist(paths):
    missing = [os.fspath(p) for p in paths if not os.path.isfile(os.fspath(p))]
    if missing:
        raise FileNotFoundError(
            f"teacher checkpoint(s) not found: {missing}; give the checkpoints of "
            "trained networks (e.g. runs/NAME/checkpoint.npz) or drop the teachers"
        )


def load_teachers(paths, net):
    """The networks of the checkpoints ``paths``, checked against ``net``.

    Parameters
    ----------
    paths : sequence of str
        Checkpoints (`.save_checkpoint` files, such as a ``checkpoint.npz`` of
        ``nengo-softlif train`` or a shipped network).
    net : `.SoftLIFNetwork`
        The network being trained: every teacher must read its input shape and
        give its number of classes.

    Returns
    -------
    list of `.SoftLIFNetwork`

    Raises
    ------
    FileNotFoundError, `.CheckpointError`
        A missing file, or a teacher of another input or number of classes.
    """
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        CheckpointError,
        load_network,
    )

    _check_exist(paths)
    shape, classes = tuple(net.architecture.input_shape), net.out.size_out
    teachers = []
    for path in paths:
        teacher, _ = load_network(os.fspath(path))
        got = (tuple(teacher.architecture.input_shape), teacher.out.size_out)
        if got != (shape, classes):
            raise CheckpointError(
                f"teacher {path} reads input {got[0]} and gives {got[1]} classes; "
                f"the network being trained reads {shape} and gives {classes}: give "
                "teachers trained on the same task"
            )
        teachers.append(teacher)
    return teachers


def teacher_digests(paths):
    """``"path (sha256 DIGEST)"`` of every teacher (stored with the run's
    settings, so that a run does not resume with other teachers)."""
    from nengo_softlif.network.checkpoint import checkpoint_digest  # noqa: PLC0415

    _check_exist(paths)
    return [f"{os.fspath(p)} (sha256 {checkpoint_digest(os.fspath(p))})" for p in paths]


def check_teacher_data(paths, data):
    """Refuse teachers whose images were prepared with another mean image.

    A teacher sees the images the network is trained on, prepared as the
    training data prepares them (``data.preprocessing``); a teacher trained
    with another mean image would answer for other inputs.

    Raises
    ------
    `.CheckpointError`
    """
    from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
        CheckpointError,
        load_preprocessing,
    )

    mean = (getattr(data, "preprocessing", None) or {}).get("mean_image")
    if mean is None:
        return
    for path in paths:
        stored = load_preprocessing(os.fspath(path)).get("mean_image")
        if stored is not None and not (
            np.shape(mean) == stored.shape and np.allclose(mean, stored, atol=1e-3)
        ):
            raise CheckpointError(
                f"teacher {path} was trained with another mean image than the "
                "training data's: give teachers trained on the same training images"
            )


def distillation_loss(tf, teachers, temperature, weight):
    """``loss(x, logits, hard_loss)``: the distillation loss of a training step.

    Parameters
    ----------
    tf : module
        TensorFlow.
    teachers : sequence of ``tf.keras.Model``
        The teachers as Keras models (`.keras_model`), run with
        ``training=False``.
    temperature : float
        Temperature of both softmaxes.
    weight : float
        Weight of the divergence term; the cross-entropy ``hard_loss`` has
        ``1 - weight``.

    Returns
    -------
    callable
    """
    temperature, weight = float(temperature), float(weight)

    def loss(x, logits, hard_loss):
        probs = tf.add_n(
            [
                tf.nn.softmax(tf.stop_gradient(t(x, training=False)) / temperature)
                for t in teachers
            ]
        ) / len(teachers)
        log_q = tf.nn.log_softmax(logits / temperature)
        log_p = tf.math.log(tf.maximum(probs, 1e-12))
        divergence = tf.reduce_mean(tf.reduce_sum(probs * (log_p - log_q), -1))
        return (1.0 - weight) * hard_loss + weight * temperature**2 * divergence

    return loss
