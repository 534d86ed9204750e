"""The optimizer of a training run, and its state in checkpoints."""

import numpy as np

from nengo_softlif.network.checkpoint import CheckpointError

__all__ = ["make_optimizer", "optimizer_state", "set_optimizer_state"]


def make_optimizer(tf, config):
    """The ``tf.keras`` optimizer of a `.TrainConfig` (learning rate set per step)."""
    options = {"learning_rate": config.learning_rate}
    if config.weight_decay:
        options["weight_decay"] = config.weight_decay
    if config.optimizer == "adam":
        return tf.keras.optimizers.Adam(**options)
    if config.optimizer == "rmsprop":
        return tf.keras.optimizers.RMSprop(**options)
    return tf.keras.optimizers.SGD(
        momentum=config.momentum, nesterov=config.nesterov, **options
    )


def optimizer_state(optimizer):
    """The optimizer's variables (step count, moments) as arrays, in order."""
    return [v.numpy() for v in optimizer.variables]


def set_optimizer_state(optimizer, variables, values):
    """Restore :func:`optimizer_state` into an optimizer for ``variables``.

    Raises
    ------
    CheckpointError
        If the saved state does not fit this optimizer and network.
    """
    optimizer.build(variables)
    slots = optimizer.variables
    shapes = [tuple(v.shape) for v in slots]
    if [tuple(np.shape(v)) for v in values] != shapes:
        raise CheckpointError(
            f"The checkpoint's optimizer state ({len(values)} arrays) does not fit "
            f"this optimizer and network ({len(slots)} arrays); resume with the "
            "optimizer it was trained with, or start a new run"
        )
    for slot, value in zip(slots, values, strict=True):
        slot.assign(value)
