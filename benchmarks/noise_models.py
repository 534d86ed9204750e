"""Beyond the paper: training-noise models and sigma annealing, over several seeds.

Trains the paper's MNIST network (on the bundled 3,000/1,000 sample by default,
or on full MNIST with ``--task mnist --data-dir``) once per seed and setting, at
the same epoch budget, and evaluates each statically (soft LIF and hard LIF) and
as spikes (the paper's protocol, fast backend). Prints and writes a markdown table
of mean +- standard deviation over seeds of the static error, the spiking error
and the conversion gap (spiking - static soft), and the per-seed records.

Settings: ``none`` (no noise), ``gaussian:10`` (the paper's), ``spike`` (the
alpha-filtered spike train at a random phase), ``gaussian-rate`` (Gaussian with
the train's rate-dependent spread); ``+anneal`` lowers sigma geometrically from
0.02 to 0.002 over training (:class:`nengo_softlif.training.anneal.SigmaAnnealing`),
before every training step (``--anneal-per-epoch``: before every epoch, so a
one-epoch run is not annealed; such runs go to ``<setting>-per-epoch`` folders).
Finished runs are read back from their ``results.json``; interrupted ones resume
from their checkpoint (a checkpoint trained elsewhere with the same settings,
e.g. a ``reproduce`` row, can be copied into a run folder to be evaluated only).

CIFAR-10::

    python benchmarks/noise_models.py --task cifar10 --data-dir ../shared/data/cifar10 \
        --cache-dir /tmp/nsl_cache --seeds 0 --epochs 2 --spiking-n-test 1000 \
        --out runs/noise-models-cifar10

Examples
--------
::

    python benchmarks/noise_models.py --out runs/noise-models          # ~45 min
    python benchmarks/noise_models.py --seeds 0 --epochs 2 --n-test 200  # smoke
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.sweep import Setting, run_sweep, summary_table
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.training.loop import TrainConfig

from _common import write_results

#: name -> (noise spec, anneal_to)
SETTINGS = {
    "none": ("none", None),
    "gaussian:10": ("gaussian:10", None),
    "spike": ("spike", None),
    "gaussian-rate": ("gaussian-rate", None),
    "gaussian:10 +anneal": ("gaussian:10", 0.002),
    "spike +anneal": ("spike", 0.002),
    "gaussian-rate +anneal": ("gaussian-rate", 0.002),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist-sample")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/noise-models")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--cache-dir", default=None, help="cache of decoded images")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument(
        "--spiking-n-test",
        type=int,
        default=None,
        help="spiking run on the first N test images only (gap on the same images)",
    )
    parser.add_argument(
        "--settings", default=",".join(SETTINGS), help="comma-separated subset"
    )
    parser.add_argument(
        "--anneal-per-epoch",
        action="store_true",
        help="+anneal settings change sigma once per epoch instead of every step "
        "(the schedule of the MNIST-sample and CIFAR-10 tables in docs/results/beyond.md); "
        "their runs go to '<setting>-per-epoch' folders",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="tabulate the finished runs only (train nothing)",
    )
    args = parser.parse_args(argv)
    task = get_task(args.task)
    dataset = load_dataset(args.task, data_dir=args.data_dir, cache_dir=args.cache_dir)
    suffix = " -per-epoch" if args.anneal_per_epoch else ""
    settings = []
    for name in args.settings.split(","):
        noise, anneal_to = SETTINGS[name]
        experiment = {
            "hard_forward": False,  # the soft LIF forward these models are for
            "noise": noise,
            "anneal_to": anneal_to,
            "anneal_per_step": not args.anneal_per_epoch,
            "n_test": args.n_test,
            "spiking_n_test": args.spiking_n_test,
        }
        # per-epoch annealing is another run: its own folder, never resumed per step
        label = name + (suffix if anneal_to is not None else "")
        settings.append(Setting(label, experiment=experiment))
    records = run_sweep(
        task,
        dataset,
        args.out,
        settings,
        [int(s) for s in args.seeds.split(",")],
        TrainConfig(epochs=args.epochs),
        report_only=args.report_only,
        log=lambda line: print(line, flush=True),
    )
    markdown = summary_table(records)
    print(markdown)
    write_results(
        args.out,
        markdown,
        {"args": vars(args), "markdown": markdown, "records": records},
    )


if __name__ == "__main__":
    main()
