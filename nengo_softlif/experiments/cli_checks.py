"""Checks of the ``nengo-softlif`` options that need more than their own value.

Combinations of options, paths (folders to write, the checkpoint to read) and
limits that depend on the machine are checked here, before any data is read or
any network built; each error names the option and says what to write instead.
"""

import dataclasses
import os
import tempfile
import zipfile

__all__ = [
    "check_args",
    "check_output_dir",
    "check_checkpoint_file",
    "available_cores",
    "WORKERS_PER_CORE",
]


def pretrained_name(args):
    """The shipped network ``--pretrained [NAME]`` asks for (alone: ``--task``'s).

    None without ``--pretrained``.
    """
    value = getattr(args, "pretrained", False)
    if not value:
        return None
    return args.task if value is True else value


def check_args(args):
    """Checks of option combinations, before any work is done.

    Raises
    ------
    ValueError
        Naming the option and what to write instead.
    """
    noise = getattr(args, "noise", None)
    if noise is not None:
        if not noise.strip():
            raise ValueError(
                "--noise is empty: write --noise none for no training noise, or a "
                "model such as --noise gaussian:10"
            )
        from nengo_softlif.neurons.noise import parse_noise  # pylint: disable=C0415

        parse_noise(noise)
    if getattr(args, "task", None) == "mnist-sample" and args.data_dir is not None:
        raise ValueError(
            "--data-dir is not used with --task mnist-sample (the sample ships with "
            "the package); drop --data-dir, or use --task mnist with it"
        )
    if getattr(args, "image_size", None) is not None and args.task != "folder":
        raise ValueError(
            f"--image-size resizes image folders (--task folder), not --task "
            f"{args.task}; drop --image-size"
        )
    for option in ("loihi_target", "pool_relays"):
        if (
            args.command == "evaluate"
            and getattr(args, option, None) is not None
            and args.backend != "loihi"
        ):
            flag = "--" + option.replace("_", "-")
            raise ValueError(
                f"{flag} applies to --backend loihi; add --backend loihi or drop "
                f"{flag}"
            )
    if getattr(args, "dt", None) is not None:
        _check_steps_per_image(args)
    if getattr(args, "loihi_target", None):
        from nengo_softlif.compat import check_loihi_target  # noqa: PLC0415

        check_loihi_target(args.loihi_target, "--loihi-target")
    workers, cores = getattr(args, "workers", 1), available_cores()
    if workers > WORKERS_PER_CORE * cores:
        raise ValueError(
            f"--workers {workers} is more than {WORKERS_PER_CORE} per core of this "
            f"machine ({cores} cores), and each worker is a process of its own "
            f"(hundreds of MB); use at most {WORKERS_PER_CORE * cores} (--workers "
            f"{cores} is usually fastest)"
        )
    if getattr(args, "backend", None) == "loihi" and getattr(args, "workers", 1) > 1:
        raise ValueError(
            "--workers applies to --backend fast only (the Loihi emulator runs in "
            "one process); drop --workers or use --backend fast"
        )
    for option in ("out", "cache_dir"):
        path = getattr(args, option, None)
        if path is not None:
            check_output_dir(path, "--" + option.replace("_", "-"))
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None:
        check_checkpoint_file(checkpoint)
    name = pretrained_name(args)
    if name is not None:
        from nengo_softlif.pretrained import pretrained_path  # noqa: PLC0415

        pretrained_path(name, args.task)
    init_from = getattr(args, "init_from", None)
    if init_from is not None and init_from != "pretrained":
        check_checkpoint_file(init_from, "--init-from")
    if init_from is not None and not os.path.exists(
        os.path.join(args.out, "checkpoint.npz")
    ):
        from nengo_softlif.experiments.experiment import (  # noqa: PLC0415
            check_init_from,
        )

        check_init_from(init_from, args.first_layer_scale)
    run_dir = getattr(args, "run_dir", None)
    if run_dir is not None:
        if not os.path.isdir(run_dir):
            what = (
                "is a file, not a folder"
                if os.path.exists(run_dir)
                else ("does not exist")
            )
            raise ValueError(
                f"{os.path.abspath(run_dir)} {what}; give the folder of a train, "
                "evaluate, demo or reproduce run (its --out)"
            )
        check_output_dir(run_dir, "RUN_DIR")
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None and not os.path.exists(data_dir):
        raise ValueError(
            f"--data-dir {os.path.abspath(data_dir)} does not exist; check the path "
            "(the folder, or .tar.gz, that holds the data set)"
        )


def _check_steps_per_image(args):
    """``--dt`` with the presentation time: at most MAX_STEPS_PER_IMAGE steps."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.experiments.cli_values import MAX_STEPS_PER_IMAGE
    from nengo_softlif.experiments.tasks import get_task

    presentation = getattr(args, "presentation_time", None)
    if presentation is None:
        presentation = get_task(args.task).protocol.presentation_time
    steps = presentation / args.dt
    if steps > MAX_STEPS_PER_IMAGE:
        raise ValueError(
            f"--dt {args.dt:g} makes a presentation of {presentation:g} s "
            f"{steps:.0f} steps per image, more than {MAX_STEPS_PER_IMAGE}; use a "
            "larger --dt or a shorter --presentation-time"
        )
    task_protocol(args)  # a step that divides the presentation and the read-out


def task_protocol(args):
    """The task's spiking protocol with ``--presentation-time``, ``--t-start``,
    ``--dt`` and ``--reset`` applied (those the command has and was given).

    Raises
    ------
    ValueError
        If they do not fit together (naming the options).
    """
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    changes = {}
    presentation = getattr(args, "presentation_time", None)
    if presentation is not None:
        changes.update(presentation_time=presentation, t_end=presentation)
    for option in ("t_start", "dt"):
        if getattr(args, option, None) is not None:
            changes[option] = getattr(args, option)
    if getattr(args, "reset", False):
        changes["reset"] = True
    try:
        return dataclasses.replace(get_task(args.task).protocol, **changes)
    except ValueError as err:
        given = [
            "--" + option.replace("_", "-")
            for option in ("presentation_time", "t_start", "dt")
            if getattr(args, option, None) is not None
        ]
        verb = "does" if len(given) == 1 else "do"
        raise ValueError(
            f"{' / '.join(given)} {verb} not fit the task's spiking protocol: {err}"
        ) from None


def check_checkpoint_file(path, option="--checkpoint"):
    """Make sure ``option`` names an existing checkpoint file, before any work."""
    if os.path.isdir(path):
        raise ValueError(
            f"{option} {path} is a folder; pass the checkpoint file in it (e.g. "
            f"{option} {os.path.join(path, 'checkpoint.npz')})"
        )
    if not os.path.exists(path):
        raise ValueError(
            f"{option} {path} does not exist; train first (`nengo-softlif train "
            "--out FOLDER` writes FOLDER/checkpoint.npz) or pass the path of an "
            "existing checkpoint"
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{option} {path} is not a checkpoint (the .npz file that "
            "`nengo-softlif train` writes); pass the path of one"
        )


#: --workers may be at most this many times the core count.
WORKERS_PER_CORE = 4


def available_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def check_output_dir(path, option="--out"):
    """Make sure ``path`` is (or can become) a writable folder, before any work.

    Parameters
    ----------
    path : str
    option : str
        The option that gave ``path``, for the message.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"{option} {path} is a file, not a folder; choose another {option}"
        )
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(
            f"{option} {path} is inside {parent}, which is a file; choose another {option}"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"{option} {path}: no permission to write in {parent}; choose a folder you "
            "can write to"
        )
    try:  # what a permission check cannot tell: a read-only or special file system
        os.rmdir(tempfile.mkdtemp(prefix=".nengo-softlif-check-", dir=parent))
    except OSError as err:
        raise ValueError(
            f"{option} {path}: cannot write in {parent} ({err.strerror}); choose a "
            "folder you can write to"
        ) from None
