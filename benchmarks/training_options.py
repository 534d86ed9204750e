"""Training options side by side: is the trained network the one that spikes?

Trains a task's network once per (option, seed) at one epoch budget and
evaluates it statically with soft LIF and hard LIF rates (all test images) and
as spikes (the paper's protocol, fast backend, the first ``--spiking-n-test``
images). Prints and writes a markdown table with the gap of the spiking error
against the static soft and the static hard network on the same images.

Options (``--settings``, comma-separated):

``paper``
    The papers' settings: sigma 0.02 throughout, Gaussian noise of 10 Hz.
``anneal``
    As ``paper``, with sigma annealed 0.02 -> 0.002 before every step.
``hard-forward``
    As ``paper``, with the hard LIF rate forward and the soft derivative backward.
``default``
    The package's defaults (`.TrainConfig`, `.ExperimentConfig`).
``rate-penalty``
    ``hard-forward`` with a firing-rate penalty of 1e-4 per Hz squared
    (``TrainConfig.rate_penalty``): fewer spikes per answer.
``fast``
    The ``fast`` recipe (initial weights x2, Adam 3e-3 after a 1-epoch warm-up,
    annealing).

Every row trains with ``--engine`` (default ``keras``: the same computation as
nengo-dl, faster). Cells go to ``OUT/epochs<N>/<option>/seed<S>`` and are read
back when done (see :mod:`nengo_softlif.experiments.sweep`).

Examples
--------
::

    python benchmarks/training_options.py --task mnist --data-dir DATA/mnist \\
        --epochs 1 --seeds 0,1,2 --spiking-n-test 1000 --out runs/training-options
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nengo_softlif.console import quiet_known_warnings
from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.experiment import ExperimentConfig
from nengo_softlif.experiments.sweep import (
    Setting,
    run_sweep,
    summary_table,
)
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.training.loop import TrainConfig
from nengo_softlif.training.recipes import get_recipe

from _common import write_results

#: the paper's settings, stated in full (they do not follow the defaults)
PAPER = {
    "sigma": 0.02,
    "noise": "gaussian:10",
    "anneal_to": None,
    "hard_forward": False,
}


def settings():
    fast = get_recipe("fast")
    return {
        "paper": Setting("paper", experiment=PAPER),
        "anneal": Setting("anneal", experiment={**PAPER, "anneal_to": 0.002}),
        "hard-forward": Setting(
            "hard-forward", experiment={**PAPER, "hard_forward": True}
        ),
        "default": Setting("default"),
        "rate-penalty": Setting(
            "rate-penalty",
            train={"rate_penalty": 1e-4},
            experiment={**PAPER, "hard_forward": True},
        ),
        "fast": Setting(
            "fast",
            train={k: v for k, v in fast.train.items() if k != "engine"},
            experiment={**PAPER, "anneal_to": fast.anneal_to},
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist-sample")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--out", default="runs/training-options")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--engine", default="keras", choices=["keras", "nengo-dl"])
    parser.add_argument("--spiking-n-test", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--settings", default="paper,anneal,hard-forward")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    quiet_known_warnings()

    known = settings()
    unknown = sorted(set(args.settings.split(",")) - set(known))
    if unknown:
        parser.error(f"unknown --settings {unknown}; choose from {sorted(known)}")
    chosen = [known[name] for name in args.settings.split(",")]
    task = get_task(args.task)
    dataset = load_dataset(args.task, data_dir=args.data_dir, cache_dir=args.cache_dir)
    out = os.path.join(args.out, f"epochs{args.epochs}")
    records = run_sweep(
        task,
        dataset,
        out,
        chosen,
        [int(s) for s in args.seeds.split(",")],
        TrainConfig(epochs=args.epochs, engine=args.engine),
        ExperimentConfig(spiking_n_test=args.spiking_n_test, workers=args.workers),
        report_only=args.report_only,
        log=lambda line: print(line, flush=True),
    )
    markdown = summary_table(records, label=f"training ({args.epochs} epochs)")
    print(markdown)
    write_results(
        out, markdown, {"args": vars(args), "markdown": markdown, "records": records}
    )
    wall = {
        name: [r["train_wall_time_s_this_run"] for r in rows]
        for name, rows in records.items()
    }
    print("training wall time per run (s):", json.dumps(wall))
    return records


if __name__ == "__main__":
    main()
