"""The options of the ``nengo-softlif`` command.

Every option is checked when it is parsed (by the value types of
:mod:`~nengo_softlif.experiments.cli_values`), so that a bad value is refused
with its name before anything runs.
"""

import argparse

from nengo_softlif.experiments.cli_training import add_train_options
from nengo_softlif.experiments.cli_values import (
    MAX_DT,
    MAX_IMAGE_SIZE,
    MAX_PRESENTATION_TIME,
    MAX_SYNAPSE_TAU,
    POSITIVE,
    TIME_STEP,
    finite,
    int_at_least,
    pool_relays_value,
)
from nengo_softlif.params import SEED_LIMIT

__all__ = ["build_parser"]


def _add_common(parser):
    parser.add_argument(
        "--seed",
        type=int_at_least(0, most=SEED_LIMIT - 1),
        default=0,
        help=f"random seed, 0 to {SEED_LIMIT - 1} (default 0)",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument(
        "--verbose",
        action="store_true",
        help="show everything, TensorFlow's start-up messages included",
    )
    loud.add_argument(
        "--quiet", action="store_true", help="show only the result (no progress)"
    )


def _add_data(parser, required=True):
    parser.add_argument(
        "--task",
        choices=["mnist", "cifar10", "mnist-sample", "folder"],
        default="mnist",
        help="data set and the paper's network for it; folder: your own "
        "image-folder tree (train/<class>/*, test/<class>/*) with the CIFAR-10 "
        "network",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the data set (MNIST IDX files; CIFAR-10 python batches, "
        "an image-folder tree or its .tar.gz); not needed for mnist-sample",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder for a cache of decoded images (CIFAR-10, image folders)",
    )
    parser.add_argument(
        "--image-size",
        type=int_at_least(1, most=MAX_IMAGE_SIZE),
        default=None,
        metavar="N",
        help=f"--task folder: resize the images to NxN, N at most {MAX_IMAGE_SIZE} "
        "(default: keep their size)",
    )


def _add_evaluation(parser):
    parser.add_argument(
        "--backend",
        choices=["fast", "nengo-dl", "nengo", "loihi"],
        default="fast",
        help="simulator of the spiking run (default fast: event-driven, same dynamics)",
    )
    parser.add_argument(
        "--n-test",
        type=POSITIVE,
        default=None,
        help="evaluate the first N test images (default: all)",
    )
    parser.add_argument(
        "--presentation-time",
        type=finite(0, low_open=True, high=MAX_PRESENTATION_TIME),
        default=None,
        help=f"seconds per image, at most {MAX_PRESENTATION_TIME} (default: the "
        "task's, 0.2)",
    )
    parser.add_argument(
        "--dt",
        type=TIME_STEP,
        default=None,
        help=f"simulation time step in seconds, at most {MAX_DT:g} (default: the "
        "task's, 0.001); on the loihi backend, the chip's time step",
    )
    parser.add_argument(
        "--t-start",
        type=finite(0),
        default=None,
        help="start of the read-out window (default: the task's)",
    )
    parser.add_argument(
        "--reset", action="store_true", help="reset the network between images"
    )
    parser.add_argument(
        "--synapse-tau",
        type=finite(0, low_open=True, high=MAX_SYNAPSE_TAU),
        default=0.005,
        help="time constant (s) of the alpha synapse on every neuron output, at "
        f"most {MAX_SYNAPSE_TAU:g}",
    )
    parser.add_argument(
        "--eval-minibatch",
        type=POSITIVE,
        default=100,
        help="parallel image streams (nengo-dl and fast)",
    )
    parser.add_argument(
        "--workers",
        type=POSITIVE,
        default=1,
        help="processes for the fast backend (same results; e.g. the core count)",
    )
    parser.add_argument(
        "--loihi-target",
        choices=["sim", "simreal", "loihi"],
        default=None,
        help="with --backend loihi: nengo-loihi's emulator (sim), the emulator "
        "without quantisation (simreal), or Loihi hardware (loihi; needs "
        "nengo-loihi's hardware packages and a board) [default: sim]",
    )
    parser.add_argument(
        "--pool-relays",
        type=pool_relays_value,
        default=None,
        help="with --backend loihi: pools that are one-spike relays on the chip: "
        "all, none (counters of whole windows, the default), auto (relays or "
        "counters of 2, 3 or a whole window, chosen per pool by measuring the "
        "model of the chip on 20 images) or names separated by commas",
    )


def _add_reproduce(command):
    from nengo_softlif.training.recipes import RECIPES  # noqa: PLC0415

    reproduce = command("reproduce", help="the paper's table of modifications")
    reproduce.add_argument(
        "task",
        choices=["mnist", "cifar10", "mnist-sample"],
        help="the paper's data set and network",
    )
    reproduce.add_argument(
        "--data-dir",
        default=None,
        help="folder with the data set (not needed for mnist-sample)",
    )
    reproduce.add_argument(
        "--cache-dir", default=None, help="folder for a cache of decoded images"
    )
    reproduce.add_argument(
        "--out", default=None, help="output folder (default reproduce-TASK)"
    )
    reproduce.add_argument(
        "--epochs", type=POSITIVE, default=10, help="epoch budget of every row"
    )
    reproduce.add_argument(
        "--rows", default=None, help="comma-separated subset of rows (default all)"
    )
    reproduce.add_argument(
        "--n-test", type=POSITIVE, default=None, help="test images (default all)"
    )
    reproduce.add_argument(
        "--spiking-n-test",
        type=POSITIVE,
        default=None,
        help="test images of the spiking runs, the first ones (default: --n-test)",
    )
    reproduce.add_argument(
        "--train-images",
        type=POSITIVE,
        default=None,
        help="use only the first N training images (default: all)",
    )
    reproduce.add_argument(
        "--recipe",
        default="paper",
        choices=sorted(RECIPES),
        help="training recipe of every row (see train --help): paper (the papers' "
        "settings, default), fast, fast-hard, sgd-hard or default; the extra row "
        "'hard-forward' trains with the recipe's optimizer and hard LIF forward",
    )
    reproduce.add_argument(
        "--eval-minibatch",
        type=POSITIVE,
        default=100,
        help="parallel image streams of the evaluations",
    )
    reproduce.add_argument(
        "--workers",
        type=POSITIVE,
        default=1,
        help="processes for the fast spiking runs",
    )
    _add_common(reproduce)


def _add_network_source(parser):
    """``--checkpoint`` or ``--pretrained``: the network a command runs."""
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="checkpoint.npz from `train`")
    which.add_argument(
        "--pretrained",
        nargs="?",
        const=True,
        default=False,
        metavar="NAME",
        help="a trained network shipped with the package: alone, the one for "
        "--task (cifar10); with a NAME, that one (see nengo_softlif.pretrained."
        "PRETRAINED, e.g. cifar10-loihi)",
    )


def _add_diagnose(command):
    diagnose = command(
        "diagnose",
        help="where accuracy goes: rates, exact spikes and each chip change alone",
    )
    _add_data(diagnose)
    _add_network_source(diagnose)
    diagnose.add_argument(
        "--n-test", type=POSITIVE, default=100, help="the first N test images"
    )
    diagnose.add_argument(
        "--changes",
        default=None,
        help="chip changes to run alone, separated by commas (default all: "
        "pools, input, synapses, neurons, weights)",
    )
    diagnose.add_argument(
        "--emulator",
        action="store_true",
        help="also run nengo-loihi's emulator (seconds per image)",
    )
    diagnose.add_argument(
        "--pool-relays",
        type=pool_relays_value,
        default=False,
        help="pools that are one-spike relays on the chip: all, none (counters, "
        "the default), auto (chosen by measurement) or names separated by commas",
    )
    diagnose.add_argument(
        "--dt",
        type=TIME_STEP,
        default=None,
        help="the chip's time step in seconds, for the chip changes and the "
        "emulator (default: the task's, 0.001; the exact run keeps it)",
    )
    diagnose.add_argument(
        "--eval-minibatch",
        type=POSITIVE,
        default=50,
        help="parallel image streams of the fast backend",
    )
    diagnose.add_argument(
        "--out",
        default=None,
        help="folder for diagnosis.json and diagnosis.md (default: the "
        "checkpoint's folder; nengo-softlif-pretrained-TASK with --pretrained)",
    )
    _add_common(diagnose)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless it has none or its help states it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default == argparse.SUPPRESS
        ):
            return text
        return super()._get_help_string(action)


def build_parser():
    """The argument parser of ``nengo-softlif``."""
    parser = argparse.ArgumentParser(
        prog="nengo-softlif",
        description="Train deep soft-LIF networks in nengo-dl and run them as spiking LIF networks "
        "(Hunsberger & Eliasmith 2015, 2016).",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, **kwargs):
        return sub.add_parser(name, formatter_class=HelpFormatter, **kwargs)

    demo = command("demo", help="offline end-to-end demo on the bundled MNIST sample")
    demo.add_argument("--out", default="nengo-softlif-demo", help="output folder")
    demo.add_argument(
        "--epochs", type=POSITIVE, default=5, help="training epochs on the sample"
    )
    demo.add_argument(
        "--n-test", type=POSITIVE, default=200, help="test images of the spiking run"
    )
    _add_common(demo)

    train = command("train", help="train a network (resumes from --out/checkpoint.npz)")
    _add_data(train)
    add_train_options(train)
    train.add_argument(
        "--out", required=True, help="output folder (checkpoint.npz, results)"
    )
    _add_common(train)

    evaluate = command("evaluate", help="static and spiking evaluation of a checkpoint")
    _add_data(evaluate)
    _add_network_source(evaluate)
    _add_evaluation(evaluate)
    evaluate.add_argument(
        "--out",
        default=None,
        help="folder for results.json and the report (default: the checkpoint's "
        "folder; nengo-softlif-pretrained-TASK with --pretrained)",
    )
    _add_common(evaluate)

    report = command("report", help="rebuild a run's figures and report.html")
    report.add_argument(
        "run_dir", help="the folder of a train, evaluate, demo or reproduce run"
    )

    _add_reproduce(command)
    _add_diagnose(command)
    return parser
