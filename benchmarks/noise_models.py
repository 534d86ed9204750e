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
0.02 to 0.002 over training (:class:`nengo_softlif.anneal.SigmaAnnealing`),
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
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from nengo_softlif.atomic import atomic_write_bytes  # noqa: E402
from nengo_softlif.data import load_dataset  # noqa: E402
from nengo_softlif.experiment import (  # noqa: E402
    ExperimentConfig,
    run_experiment,
    static_error_on_spiking_images,
)
from nengo_softlif.tasks import get_task  # noqa: E402
from nengo_softlif.train import TrainConfig  # noqa: E402

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


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{np.mean(values):.2f} +- {np.std(values, ddof=1):.2f}"


def table(records, settings):
    lines = [
        "| training | static soft % | static hard % | spiking % | gap % | seeds |",
        "|---|---|---|---|---|---|",
    ]
    for name in settings:
        rows = records.get(name, [])
        soft = [100 * r["static_soft"]["error"] for r in rows]
        hard = [100 * r["static_hard"]["error"] for r in rows]
        spiking = [100 * r["spiking"]["error"] for r in rows]
        # the gap compares the same images (the spiking run may use a subset)
        soft_same = [100 * static_error_on_spiking_images(r) for r in rows]
        gap = [s - t for s, t in zip(spiking, soft_same, strict=True)]
        lines.append(
            f"| {name} | {_stats(soft)} | {_stats(hard)} | {_stats(spiking)} | "
            f"{_stats(gap)} | {len(rows)} |"
        )
    return "\n".join(lines)


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
        "(the schedule of the MNIST-sample and CIFAR-10 tables in docs/results.md); "
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
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = args.settings.split(",")
    records = {}
    for seed in seeds:  # seed-major: partial results already cover every setting
        for name in settings:
            noise, anneal_to = SETTINGS[name]
            folder = name.replace(" ", "")
            if anneal_to is not None and args.anneal_per_epoch:
                folder += "-per-epoch"  # never resume one schedule's checkpoint
            run_dir = os.path.join(args.out, folder, f"seed{seed}")
            path = os.path.join(run_dir, "results.json")
            record = None
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    record = json.load(f)
                done = record.get("experiment", {})
                # records from before per-step annealing have no key: per epoch
                if anneal_to is not None and done.get("anneal_per_step", False) == (
                    args.anneal_per_epoch
                ):
                    raise SystemExit(
                        f"{run_dir} holds a run annealed with the other schedule "
                        "(per epoch vs per step); its checkpoint would be resumed. "
                        "Move it away (per-epoch runs belong in '<setting>-per-epoch' "
                        "folders) or delete it"
                    )
                if (
                    record.get("epochs") != args.epochs
                    or done.get("spiking_n_test") != args.spiking_n_test
                ):
                    record = None
            if record is None and args.report_only:
                continue
            if record is None:
                record = run_experiment(
                    task,
                    dataset,
                    run_dir,
                    TrainConfig(epochs=args.epochs, seed=seed),
                    ExperimentConfig(
                        noise=noise,
                        anneal_to=anneal_to,
                        anneal_per_step=not args.anneal_per_epoch,
                        n_test=args.n_test,
                        spiking_n_test=args.spiking_n_test,
                    ),
                    verbose=0,
                )
            records.setdefault(name, []).append(record)
            print(
                f"{name:22s} seed {seed}: static {100 * record['static_soft']['error']:.2f}%"
                f" hard {100 * record['static_hard']['error']:.2f}%"
                f" spiking {100 * record['spiking']['error']:.2f}%",
                flush=True,
            )
    markdown = table(records, settings)
    print(markdown)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_bytes(os.path.join(args.out, "results.md"), (markdown + "\n").encode())
    summary = {"args": vars(args), "markdown": markdown, "records": records}
    atomic_write_bytes(
        os.path.join(args.out, "results.json"),
        json.dumps(summary, indent=2, default=str).encode(),
    )


if __name__ == "__main__":
    main()
