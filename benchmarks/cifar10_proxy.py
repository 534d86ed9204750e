"""A cheap CIFAR-10 proxy for choosing a training recipe of the paper's network.

Trains the paper's CIFAR-10 network (average pooling, soft LIF, the CIFAR-10
neurons) on the first ``--n-train`` training images for ``--epochs`` epochs per
setting, with the Keras training engine, and reports the static soft-LIF and
hard-LIF errors on the first ``--n-test`` test images. Only how the network is
trained changes between settings (learning rate and schedule, warm-up, weight
decay, label smoothing, initial weight scale, noise, annealing); a ReLU row is the
yardstick. Finished settings are read back from their ``results.json``.

Example::

    python benchmarks/cifar10_proxy.py --data-dir DATA/cifar10 --cache-dir CACHE \
        --out runs/cifar10-proxy
"""

import argparse
import dataclasses
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nengo_softlif.atomic import atomic_write_bytes
from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.experiment import (
    ExperimentConfig,
    evaluate_checkpoint,
    train_task,
)
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.neurons.noise import parse_noise
from nengo_softlif.neurons.softlif import PRESETS, RectifiedLinear
from nengo_softlif.training.loop import TrainConfig

BASE = {"learning_rate": 1e-3, "lr_schedule": "cosine"}

#: name -> (TrainConfig changes, ExperimentConfig changes, neuron: softlif | relu)
SETTINGS = {
    "baseline (adam 1e-3, cosine)": ({}, {}, "softlif"),
    "init x2": ({"init_scale": 2.0}, {}, "softlif"),
    "init x4": ({"init_scale": 4.0}, {}, "softlif"),
    "init x2, lr 3e-3, warm-up 1": (
        {"init_scale": 2.0, "learning_rate": 3e-3, "warmup_epochs": 1.0},
        {},
        "softlif",
    ),
    "init x2, wd 5e-4": ({"init_scale": 2.0, "weight_decay": 5e-4}, {}, "softlif"),
    "init x2, label smoothing 0.1": (
        {"init_scale": 2.0, "label_smoothing": 0.1},
        {},
        "softlif",
    ),
    "init x2, minibatch 50": ({"init_scale": 2.0, "minibatch_size": 50}, {}, "softlif"),
    "init x2, no noise": ({"init_scale": 2.0}, {"noise": "none"}, "softlif"),
    "init x2, anneal 0.002": ({"init_scale": 2.0}, {"anneal_to": 0.002}, "softlif"),
    "ReLU (yardstick)": ({}, {"noise": "none"}, "relu"),
}


def run_setting(name, task, dataset, out, args):
    changes, exp_changes, neuron = SETTINGS[name]
    folder = os.path.join(
        out, name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    )
    result_path = os.path.join(folder, "results.json")
    if os.path.exists(result_path):
        with open(result_path, encoding="utf-8") as f:
            return json.load(f)
    train_config = TrainConfig(
        **{**BASE, "epochs": args.epochs, "engine": "keras", **changes}
    )
    config = ExperimentConfig(
        **{
            "noise": "gaussian:10",
            "hard_forward": False,  # the paper's soft forward, as measured
            "n_test": args.n_test,
            **exp_changes,
        }
    )
    kwargs = {}
    if neuron == "relu":  # as reproduce's ReLU rows: gain 1, bias 0, amplitude 1
        kwargs["neuron_type"] = RectifiedLinear(noise=parse_noise(config.noise))
        kwargs["lif_params"] = dataclasses.replace(
            PRESETS["cifar10"], amplitude=1.0, gain=1.0, bias=0.0
        )
    t0 = time.perf_counter()
    train_task(task, dataset, folder, train_config, config, verbose=0, **kwargs)
    train_time = time.perf_counter() - t0
    evaluation, meta = evaluate_checkpoint(
        task, dataset, os.path.join(folder, "checkpoint.npz"), config, spiking=False
    )
    record = {
        "setting": name,
        "train_config": dataclasses.asdict(train_config),
        "experiment": dataclasses.asdict(config),
        "train_seconds": train_time,
        "history": meta["state"]["history"],
        **evaluation,
    }
    atomic_write_bytes(result_path, json.dumps(record, indent=2).encode())
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cache-dir")
    parser.add_argument("--out", default="runs/cifar10-proxy")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--settings", help="comma-separated names (default: all)")
    args = parser.parse_args(argv)
    names = list(SETTINGS) if not args.settings else args.settings.split(";")
    task = get_task("cifar10")
    dataset = load_dataset("cifar10", args.data_dir, cache_dir=args.cache_dir)
    dataset = dataset.subset(n_train=args.n_train)
    lines = [
        f"| setting | static soft % | static hard % | train s | ({args.n_train} "
        f"training images, {args.epochs} epochs, {args.n_test} test images) |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        record = run_setting(name, task, dataset, args.out, args)
        soft = 100 * record["static_soft"]["error"]
        hard = record.get("static_hard")
        hard = "-" if hard is None else f"{100 * hard['error']:.2f}"
        lines.append(
            f"| {name} | {soft:.2f} | {hard} | {record['train_seconds']:.0f} | |"
        )
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(table)
    atomic_write_bytes(os.path.join(args.out, "table.md"), (table + "\n").encode())


if __name__ == "__main__":
    main()
