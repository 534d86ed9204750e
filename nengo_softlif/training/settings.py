"""What decides a training run's result: stored with checkpoints, compared on resume.

A resumed run must be the run that was started; :func:`training_settings`
describes it (training configuration, neuron type, callbacks) and
:func:`settings_differences` lists, in words, what differs between a
checkpoint's settings and the current ones (settings that may change on resume,
``RESUMABLE_CHANGES``, are left out).
"""

import dataclasses

from nengo_softlif.training.config import TrainConfig

__all__ = [
    "RESUMABLE_CHANGES",
    "describe_callbacks",
    "training_settings",
    "follow_run_length",
    "settings_differences",
]

#: TrainConfig fields that may change when a run is resumed (training longer).
RESUMABLE_CHANGES = ("epochs",)
#: The teachers' paths and the TrainConfig fields that only act with teachers.
_DISTILLATION = ("teachers", "distill_weight", "distill_temperature")


def _train_config_default(name):
    return TrainConfig.__dataclass_fields__[name].default


def describe_callbacks(callbacks):
    """JSON description of training callbacks (those with a ``describe()``)."""
    return [
        c.describe() if hasattr(c, "describe") else type(c).__name__ for c in callbacks
    ]


def training_settings(net, config, callbacks):
    """Everything that decides a run's result besides the data: compared on resume."""
    from nengo_softlif.network.checkpoint import describe_neuron_type  # noqa: PLC0415

    train_config = dataclasses.asdict(config)
    # the teachers are compared by their digests (below), not their paths; the
    # distillation settings only with teachers (as in earlier checkpoints)
    for name in ("teachers",) if config.teachers else _DISTILLATION:
        train_config.pop(name)
    settings = {
        "train_config": train_config,
        "neuron_type": describe_neuron_type(net.neuron_type),
        "callbacks": describe_callbacks(callbacks),
    }
    if config.teachers:
        from nengo_softlif.training.distillation import (  # noqa: PLC0415
            teacher_digests,
        )

        settings["teachers"] = teacher_digests(config.teachers)
    return settings


def follow_run_length(settings):
    """Settings with the run length left out of callbacks that follow it.

    A callback scheduled over the whole run (e.g. `.SigmaAnnealing` over
    ``epochs``) changes with ``epochs``, which may change on resume.
    """
    epochs = settings.get("train_config", {}).get("epochs")
    callbacks = settings.get("callbacks")
    if epochs is None or not isinstance(callbacks, list):
        return settings
    followed = [
        (
            {k: v for k, v in c.items() if not (k == "epochs" and v == epochs)}
            if isinstance(c, dict)
            else c
        )
        for c in callbacks
    ]
    return {**settings, "callbacks": followed}


def _teachers_difference(old, new):
    """The teachers of a checkpoint's run and of the current one, in words."""

    def said(digests):
        if not digests:
            return "no teachers"
        return (
            f"{len(digests)} teacher(s) (sha256 "
            + ", ".join(d[:12] for d in digests)
            + ")"
        )

    return (
        f"teachers: {said(old)} in the checkpoint, {said(new)} now (give the "
        "same teacher files, --teacher, in the same order)"
    )


def settings_differences(stored, current):
    """Human-readable differences between two :func:`training_settings`."""
    stored, current = follow_run_length(stored), follow_run_length(current)
    diffs = []
    for group in sorted(set(stored) | set(current)):
        old, new = stored.get(group), current.get(group)
        if group == "teachers":
            if old != new:
                diffs.append(_teachers_difference(old, new))
        elif isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if group == "train_config" and key in RESUMABLE_CHANGES:
                    continue
                if key not in old and key in new:
                    # a setting newer than the checkpoint: fine at its default
                    default = (
                        _train_config_default(key) if group == "train_config" else None
                    )
                    if new[key] in (default, False, None):
                        continue
                if old.get(key) != new.get(key):
                    diffs.append(
                        f"{key}: {old.get(key)!r} in the checkpoint, {new.get(key)!r} now"
                    )
        elif old != new and old is not None:
            diffs.append(f"{group}: {old!r} in the checkpoint, {new!r} now")
    return diffs
