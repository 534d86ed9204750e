"""The ``nengo-softlif`` command: demo, train, evaluate, reproduce.

Every command is a thin layer over the public Python API
(:mod:`nengo_softlif.experiments.experiment`, :mod:`nengo_softlif.experiments.reproduce`).
"""

import contextlib
import json
import os
import signal
import sys
import time

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.experiments.cli_checks import (
    check_args,
    pretrained_name,
    task_protocol,
)
from nengo_softlif.experiments.cli_parser import build_parser
from nengo_softlif.experiments.cli_training import RECIPE_TRAIN_OPTIONS

__all__ = ["main", "build_parser"]


def _load(args):
    from nengo_softlif.data import (
        load_dataset,
    )  # pylint: disable=import-outside-toplevel

    dataset = load_dataset(
        args.task,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        image_size=getattr(args, "image_size", None),
    )
    if getattr(args, "train_images", None):
        dataset = dataset.subset(n_train=args.train_images)
    return dataset


def _print_table(record, as_json):
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    rows = [
        ("static soft LIF", "static_soft"),
        ("static hard LIF", "static_hard"),
        ("spiking LIF", "spiking"),
    ]
    print(
        f"{'network':<18}{'error %':>9}  {'n':>6}  {'wall s':>8}  per-layer rates (Hz)"
    )
    for title, key in rows:
        if key not in record:
            continue
        r = record[key]
        rates = ", ".join(f"{k} {v:.1f}" for k, v in r["layer_rates_hz"].items())
        print(
            f"{title:<18}{100 * r['error']:>9.2f}  {r['n_images']:>6}  "
            f"{r['wall_time_s']:>8.1f}  {rates}"
        )
    spiking = record.get("spiking", {})
    from nengo_softlif.experiments.experiment import gap_text  # noqa: PLC0415

    gaps = gap_text(record)
    if gaps:
        print(gaps)
    if spiking.get("energy_ratio") is not None:
        print(
            f"synaptic events/image {spiking['synaptic_events_per_image']:.3g}, neuron updates/"
            f"image {spiking['neuron_updates_per_image']:.3g}, energy vs rate net "
            f"{spiking['energy_ratio']:.3f} (paper's estimate)"
        )


def _experiment_config(args):
    from nengo_softlif.experiments.experiment import (
        ExperimentConfig,
    )  # pylint: disable=C0415

    if getattr(args, "anneal_per_epoch", False) and args.anneal_sigma is None:
        raise ValueError(
            "--anneal-per-epoch only applies to annealing: add --anneal-sigma END "
            "(e.g. --anneal-sigma 0.002), or drop --anneal-per-epoch"
        )
    return ExperimentConfig(
        sigma=getattr(args, "sigma", 0.02),
        noise=getattr(args, "noise", "gaussian:10"),
        n_test=getattr(args, "n_test", None),
        spiking_backend=getattr(args, "backend", "fast"),
        minibatch_size=getattr(args, "eval_minibatch", 100),
        workers=getattr(args, "workers", 1),
        anneal_to=getattr(args, "anneal_sigma", None),
        anneal_per_step=not getattr(args, "anneal_per_epoch", False),
        hard_forward=getattr(args, "hard_forward", True),
        loihi_dt=getattr(args, "loihi_dt", None),
        synapse_tau=getattr(args, "synapse_tau", 0.005),
        backend_options={
            key: value
            for key, value in (
                ("target", getattr(args, "loihi_target", None)),
                ("pool_relays", getattr(args, "pool_relays", None)),
            )
            if value is not None
        },
    )


def _distillation_options(args):
    """The `.TrainConfig` fields of ``--teacher`` and its settings."""
    teachers = [
        _pretrained(args.task) if t == "pretrained" else t for t in args.teacher or ()
    ]
    options = {
        "distill_weight": args.distill_weight,
        "distill_temperature": args.distill_temperature,
    }
    given = [k for k, v in options.items() if v is not None]
    if given and not teachers:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(
            f"{flags} {'sets' if len(given) == 1 else 'set'} how teachers are "
            f"learnt, and no --teacher is given: add --teacher CHECKPOINT, or drop "
            f"{flags}"
        )
    return {"teachers": tuple(teachers), **{k: options[k] for k in given}}


def cmd_train(args):
    """``nengo-softlif train``."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.experiments.experiment import train_task
    from nengo_softlif.experiments.tasks import get_task
    from nengo_softlif.training.loop import TrainConfig, epoch_summary

    task, dataset = get_task(args.task), _load(args)
    config = TrainConfig(
        epochs=args.epochs,
        seed=args.seed,
        **{
            field: getattr(args, option)
            for option, field in RECIPE_TRAIN_OPTIONS.items()
        },
        **_distillation_options(args),
    )
    init_from = args.init_from
    if init_from == "pretrained":
        init_from = _pretrained(args.task)
    architecture = None
    if args.pool_edges is not None:
        architecture = task.build_architecture(dataset).with_pool_edges(args.pool_edges)
    _, result = train_task(
        task,
        dataset,
        args.out,
        config,
        _experiment_config(args),
        verbose=_verbosity(args),
        max_epochs=args.epochs_this_run,
        init_from=init_from,
        architecture=architecture,
    )
    record = {
        "checkpoint": os.path.join(args.out, "checkpoint.npz"),
        "history": result.history,
        "epochs_run": result.epochs_run,
        "wall_time_s": result.wall_time,
    }
    record["report"] = _write_report(args.out, args.command)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        if args.quiet:  # the epochs were not shown as they finished
            for h in result.history:
                print(epoch_summary(h, args.epochs))
        print(f"checkpoint: {record['checkpoint']}")
        done = result.history[-1]["epoch"] if result.history else 0
        if result.epochs_run == 0:
            print(
                f"nothing trained: the checkpoint is already at epoch {done} of "
                f"--epochs {args.epochs} (raise --epochs to train longer)"
            )
        elif done < args.epochs:
            print(
                f"stopped at epoch {done} of {args.epochs}: run the same command to "
                "go on"
            )
        print(f"report: {record['report']}")
    return record


def cmd_evaluate(args):
    """``nengo-softlif evaluate``."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.experiments.experiment import evaluate_checkpoint
    from nengo_softlif.experiments.tasks import get_task

    task = get_task(args.task)
    protocol = task_protocol(args)
    dataset = _load(args)
    checkpoint = _network_source(args)
    record, _ = evaluate_checkpoint(
        task,
        dataset,
        checkpoint,
        _experiment_config(args),
        protocol=protocol,
        progress=_verbosity(args) > 0,
    )
    out = _run_folder(args, checkpoint)
    record = {"task": task.name, "checkpoint": os.path.abspath(checkpoint), **record}
    os.makedirs(out, exist_ok=True)
    atomic_write_bytes(
        os.path.join(out, "results.json"), json.dumps(record, indent=2).encode()
    )
    record["report"] = _write_report(out, args.command)
    _print_table(record, args.json)
    if not args.json:
        print(f"report: {record['report']}")
    return record


def _pretrained(task, name=None):
    """The path of the shipped network ``name`` (default: ``task``'s main one)."""
    from nengo_softlif.pretrained import pretrained_path  # noqa: PLC0415

    return pretrained_path(name or task, task=task)


def _network_source(args):
    """The checkpoint of ``--checkpoint`` or ``--pretrained [NAME]``."""
    name = pretrained_name(args)
    return args.checkpoint if name is None else _pretrained(args.task, name)


def _run_folder(args, checkpoint):
    """``--out``, or the checkpoint's folder (a folder of its own when pretrained)."""
    if args.out:
        return args.out
    name = pretrained_name(args)
    if name is not None:
        return f"nengo-softlif-pretrained-{name}"
    return os.path.dirname(os.path.abspath(checkpoint))


def cmd_diagnose(args):
    """``nengo-softlif diagnose``: rates, exact spikes and each chip change."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.evaluation.diagnosis import diagnose
    from nengo_softlif.experiments.experiment import (
        ExperimentConfig,
        checkpoint_test_data,
    )
    from nengo_softlif.experiments.tasks import get_task

    changes = None
    if args.changes is not None:
        changes = [c.strip() for c in args.changes.split(",") if c.strip()]
    task, dataset = get_task(args.task), _load(args)
    checkpoint = _network_source(args)
    net, images, labels, source = checkpoint_test_data(
        task, dataset, checkpoint, ExperimentConfig(n_test=args.n_test)
    )
    result = diagnose(
        net,
        images,
        labels,
        task.protocol,
        changes=changes,
        emulator=args.emulator,
        minibatch_size=args.eval_minibatch,
        progress=_verbosity(args) > 0,
        chip_dt=args.dt,
        pool_relays=args.pool_relays,
    )
    out = _run_folder(args, checkpoint)
    os.makedirs(out, exist_ok=True)
    record = {
        "task": task.name,
        "checkpoint": os.path.abspath(checkpoint),
        "checkpoint_epoch": source["checkpoint_epoch"],
        "checkpoint_sha256": source["checkpoint_sha256"],
        **result.to_dict(),
    }
    atomic_write_bytes(
        os.path.join(out, "diagnosis.json"), json.dumps(record, indent=2).encode()
    )
    table = result.table()
    atomic_write_bytes(os.path.join(out, "diagnosis.md"), table.encode())
    report = _write_report(out, args.command)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(table)
        print(f"report: {report}")
    return record


def _write_report(run_dir, command):
    """Write the run's report and show its warnings; its path (the HTML page)."""
    from nengo_softlif.experiments.report import (  # noqa: PLC0415
        write_report,
    )

    report = write_report(run_dir)
    for warning in report["warnings"]:
        print(f"nengo-softlif {command}: warning: {warning}", file=sys.stderr)
    return report["html"]


def cmd_report(args):
    """``nengo-softlif report RUN_DIR``: rebuild a run's figures and report."""
    path = _write_report(args.run_dir, args.command)
    print(path)
    return path


def cmd_demo(args):
    """``nengo-softlif demo``: train, convert and run spikes on the bundled sample."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.data import load_embedded_mnist
    from nengo_softlif.experiments.experiment import ExperimentConfig, run_experiment
    from nengo_softlif.experiments.tasks import get_task
    from nengo_softlif.training.loop import TrainConfig

    start = time.perf_counter()
    dataset = load_embedded_mnist()
    record = run_experiment(
        get_task("mnist-sample"),
        dataset,
        args.out,
        TrainConfig(epochs=args.epochs, seed=args.seed),
        ExperimentConfig(n_test=args.n_test),
        verbose=2 if _verbosity(args) else 0,
        progress=_verbosity(args) > 0,
    )
    record["report"] = _write_report(args.out, args.command)
    record["total_wall_time_s"] = time.perf_counter() - start
    if not args.json:
        print(
            f"\nMNIST sample: {len(dataset.train_labels)} training images, "
            f"{record['epochs']} epochs, {record['spiking']['n_images']} test images"
        )
    _print_table(record, args.json)
    if not args.json:
        print(f"total wall time {record['total_wall_time_s']:.0f} s")
        print(f"report (results and figures): {record['report']}")
    return record


def cmd_reproduce(args):
    """``nengo-softlif reproduce``."""
    from nengo_softlif.experiments.reproduce import reproduce  # pylint: disable=C0415

    record = reproduce(
        args.task,
        data_dir=args.data_dir,
        cache_dir=args.cache_dir,
        out_dir=args.out or f"reproduce-{args.task}",
        epochs=args.epochs,
        rows=args.rows.split(",") if args.rows else None,
        n_test=args.n_test,
        spiking_n_test=args.spiking_n_test,
        train_images=args.train_images,
        seed=args.seed,
        eval_minibatch=args.eval_minibatch,
        workers=args.workers,
        verbose=_verbosity(args),
        recipe=args.recipe,
    )
    if args.json:
        print(json.dumps(record, indent=2, default=str))
    else:
        print(record["markdown"])
    return record


COMMANDS = {
    "demo": cmd_demo,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "reproduce": cmd_reproduce,
    "report": cmd_report,
    "diagnose": cmd_diagnose,
}


def _verbosity(args):
    """0 for --json and --quiet, else 1 (progress on a terminal, a line per epoch)."""
    return 0 if args.json or args.quiet else 1


def apply_recipe(args):
    """Fill the options left to ``--recipe`` (those given explicitly win).

    Raises
    ------
    ValueError
        For an unknown recipe (the message lists the known ones).
    """
    if getattr(args, "command", None) != "train":
        return
    from nengo_softlif.training.recipes import get_recipe  # noqa: PLC0415

    recipe = get_recipe(args.recipe)
    config = recipe.train_config()
    for option, field in RECIPE_TRAIN_OPTIONS.items():
        if getattr(args, option) is None:
            setattr(args, option, getattr(config, field))
    if args.anneal_sigma is None:
        args.anneal_sigma = recipe.anneal_to
    elif args.anneal_sigma == "none":
        args.anneal_sigma = None
    if args.hard_forward is None:
        args.hard_forward = recipe.hard_forward


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by ``SIGTERM`` or ``SIGHUP``: stop as for Ctrl-C.

    Parameters
    ----------
    signum : int
        The signal received.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self):
        """128 + the signal number, as a shell reports a command ended by it."""
        return 128 + self.signum


#: Signals that stop a command as Ctrl-C does (where the platform has them).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def signals_as_interrupts():
    """Turn `STOP_SIGNALS` into `Terminated` in the main thread, while in the block.

    Everything Ctrl-C cleans up is then cleaned up when the command is stopped
    with ``kill`` (or its terminal closes): worker processes end, locks are
    released, a file being written is left as it was. A second signal during
    that clean-up is ignored (``kill -9`` still ends the command at once).
    Signals ignored already stay ignored (``nohup`` keeps a command running
    when its terminal closes). Outside the main thread, the block runs without
    the handlers.
    """

    def stop(signum, frame):  # pylint: disable=unused-argument
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Terminated(signum)

    previous = {}
    try:
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) != signal.SIG_IGN:  # e.g. SIGHUP under nohup
                previous[signum] = signal.signal(signum, stop)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupted(args, interrupt):
    """What an interrupted command tells the user."""
    how = (
        f"stopped by {signal.Signals(interrupt.signum).name}"
        if isinstance(interrupt, Terminated)
        else "interrupted"
    )
    message = f"nengo-softlif {args.command}: {how}"
    out = getattr(args, "out", None)
    if args.command == "train" and out:
        path = os.path.join(out, "checkpoint.npz")
        if os.path.exists(path):
            from nengo_softlif.network.checkpoint import (
                load_checkpoint,
            )  # noqa: PLC0415

            try:
                epoch = load_checkpoint(path)[1]["state"].get("epoch")
                message += (
                    f"; {path} holds epoch {epoch}: run the same command to resume"
                )
            except ValueError:
                pass
        else:
            message += "; no epoch had finished, so no checkpoint was written"
    return message


def main(argv=None):
    """Entry point of ``nengo-softlif``.

    Returns
    -------
    int
        The exit status: 0 on success, 2 for an error (one line on stderr that
        says how to fix it), 130 after Ctrl-C, 128 + the signal number after
        ``SIGTERM`` (143) or ``SIGHUP`` (129), which stop the command as Ctrl-C
        does.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    with signals_as_interrupts():
        try:
            apply_recipe(args)
            check_args(args)
            if not getattr(args, "verbose", False):
                from nengo_softlif.console import (  # noqa: PLC0415
                    quiet_known_warnings,
                    quiet_tensorflow,
                )

                quiet_tensorflow()
                quiet_known_warnings()
            COMMANDS[args.command](args)
        except KeyboardInterrupt as interrupt:
            _tell(_interrupted(args, interrupt))
            return getattr(interrupt, "exit_code", 130)
        except (ValueError, OSError, ImportError, RuntimeError, ArithmeticError) as err:
            # data, checkpoint and parameter errors already say how to fix them
            _tell(f"nengo-softlif {args.command}: error: {err}")
            return 2
    return 0


def _tell(message):
    """Print to stderr; a terminal that is gone (SIGHUP) is not an error."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
