"""CIFAR-10 studies for choosing a training recipe of the paper's network.

Trains the paper's CIFAR-10 network (average pooling, soft LIF, the CIFAR-10
neurons, Gaussian training noise of 10 Hz) on the first ``--n-train`` training
images for ``--epochs`` epochs per setting, with the Keras training engine, and
reports the static soft-LIF and hard-LIF errors on the first ``--n-test`` test
images. Only how the network is trained changes between settings; a ReLU row is
the yardstick. Finished settings are read back from their ``results.json``, and
an unfinished one resumes from its last epoch.

``--study proxy`` (10 epochs a setting): the settings of the paper's soft forward
pass (learning rate and schedule, warm-up, weight decay, label smoothing, initial
weight scale, noise, annealing). ``--study long-run`` (a mid budget, for example
10,000 images for 60 epochs): the ``fast-hard`` recipe against the levers that
pay off only in long runs (a moving average of the weights, SGD with Nesterov
momentum, the peak learning rate, label smoothing and cutout, weight decay), the
width of the soft LIF gradient (sigma: with the hard forward pass it acts on
the gradient only) and the scale of the first layer's inputs
(``first_layer_scale``: the papers' networks read pixel values of 0-255),
with the ReLU max-pooling network (the papers' original ANN) as the yardstick.

Examples::

    python benchmarks/cifar10_proxy.py --data-dir DATA/cifar10 --cache-dir CACHE \
        --out runs/cifar10-proxy
    python benchmarks/cifar10_proxy.py --data-dir DATA/cifar10 --cache-dir CACHE \
        --out runs/cifar10-study --study long-run --epochs 60 --n-test 10000
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
from nengo_softlif.training.recipes import get_recipe

#: study -> the TrainConfig and ExperimentConfig settings its rows start from
BASES = {
    "proxy": (
        {"learning_rate": 1e-3, "lr_schedule": "cosine"},
        {"hard_forward": False},
    ),
    "long-run": (get_recipe("fast-hard").train, {"hard_forward": True}),
}


def _sgd(learning_rate, weight_decay):
    """TrainConfig changes for SGD with Nesterov momentum and weight decay."""
    return {
        "optimizer": "sgd",
        "nesterov": True,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
    }


#: The papers' training, from the authors' cuda-convnet2 configuration
#: (layer-params-cifar10-11pct.cfg): SGD with momentum 0.9 at 1e-3 on the mean
#: gradient, minibatches of 128, images of 0-255 minus the mean, L2 of 0.004 on the
#: locally connected layers and 0.01 on the read-out (none on the convolutions),
#: 500 epochs and then 10 at a tenth and 10 at a hundredth of the learning rate.
PAPERS_TRAINING = {
    "optimizer": "sgd",
    "nesterov": False,
    "momentum": 0.9,
    "learning_rate": 1e-3,
    "minibatch_size": 128,
    "input_scale": 255.0,
    "l2": {"local1": 0.004, "local2": 0.004, "output": 0.01},
    "lr_schedule": "papers",
    "warmup_epochs": 0.0,
    "init_scale": 1.0,
}

#: name -> (TrainConfig changes, ExperimentConfig changes, neuron: softlif | relu
#: | relu-maxpool)
PROXY_SETTINGS = {
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
LONG_RUN_SETTINGS = {
    "fast-hard": ({}, {}, "softlif"),
    # with the hard forward pass, sigma is only the width of the gradient around
    # the threshold: wider, neurons below it still learn
    "fast-hard, sigma 0.1": ({}, {"sigma": 0.1}, "softlif"),
    "ReLU, max pooling (yardstick)": (
        {"init_scale": 1.0},
        {"noise": "none"},
        "relu-maxpool",
    ),
    "fast-hard, EMA 0.999": ({"ema_decay": 0.999}, {}, "softlif"),
    "fast-hard, lr 1e-3, EMA 0.999": (
        {"learning_rate": 1e-3, "ema_decay": 0.999},
        {},
        "softlif",
    ),
    "fast-hard, lr 6e-3, EMA 0.999": (
        {"learning_rate": 6e-3, "ema_decay": 0.999},
        {},
        "softlif",
    ),
    "SGD Nesterov 0.05, EMA 0.999": (
        {**_sgd(0.05, 0.0), "ema_decay": 0.999},
        {},
        "softlif",
    ),
    "fast-hard, label smoothing 0.1, cutout 8, EMA 0.999": (
        {"label_smoothing": 0.1, "cutout": 8, "ema_decay": 0.999},
        {},
        "softlif",
    ),
    "fast-hard, weight decay 0.05, EMA 0.999": (
        {"weight_decay": 0.05, "ema_decay": 0.999},
        {},
        "softlif",
    ),
    # SGD with L2 weight decay, as cuda-convnet trained the papers' networks
    # (for SGD, decoupled weight decay per unit of learning rate is L2)
    "ReLU, max pooling, SGD Nesterov 0.05, weight decay 5e-4": (
        {**_sgd(0.05, 5e-4), "init_scale": 1.0},
        {"noise": "none"},
        "relu-maxpool",
    ),
    **{
        f"SGD Nesterov {lr:g}, weight decay 5e-4": (_sgd(lr, 5e-4), {}, "softlif")
        # the soft LIF network's gradients, relative to its weights, are 10-100
        # times the ReLU network's: SGD needs a learning rate that much smaller
        for lr in (0.05, 0.02, 0.1, 0.2, 0.01, 0.005, 0.002, 0.001)
    },
    # every parameter array's gradient divided by its root mean square: one
    # learning rate suits every layer (decoupled weight decay per step as above)
    **{
        f"SGD Nesterov {lr:g}, normalized gradients, weight decay {wd:g}": (
            {**_sgd(lr, wd), "normalize_gradients": True},
            {},
            "softlif",
        )
        for lr, wd in ((3e-4, 0.1), (1e-3, 0.025), (1.5e-4, 0.2))
    },
    # the papers' networks read pixel values of 0-255 (minus the mean)
    "fast-hard, first layer x4": ({"first_layer_scale": 4.0}, {}, "softlif"),
    "fast-hard, first layer x8": ({"first_layer_scale": 8.0}, {}, "softlif"),
    "the papers' training": (PAPERS_TRAINING, {}, "softlif"),
    "ReLU, max pooling, the papers' training": (
        PAPERS_TRAINING,
        {"noise": "none"},
        "relu-maxpool",
    ),
}
STUDIES = {"proxy": PROXY_SETTINGS, "long-run": LONG_RUN_SETTINGS}
#: The settings of the ``proxy`` study (as before the long-run study existed).
SETTINGS = PROXY_SETTINGS


def run_setting(name, task, dataset, out, args):
    changes, exp_changes, neuron = STUDIES[args.study][name]
    base_train, base_experiment = BASES[args.study]
    folder = os.path.join(
        out,
        name.replace(" ", "_")
        .replace(",", "")
        .replace("(", "")
        .replace(")", "")
        .replace("'", ""),
    )
    result_path = os.path.join(folder, "results.json")
    if os.path.exists(result_path):
        with open(result_path, encoding="utf-8") as f:
            return json.load(f)
    train_config = TrainConfig(
        **{**base_train, "epochs": args.epochs, "engine": "keras", **changes}
    )
    config = ExperimentConfig(
        **{
            "noise": "gaussian:10",
            "n_test": args.n_test,
            **base_experiment,
            **exp_changes,
        }
    )
    kwargs = {}
    if neuron == "relu-maxpool":
        kwargs["architecture"] = task.build_architecture(dataset).with_max_pooling()
    if neuron.startswith(
        "relu"
    ):  # as reproduce's ReLU rows: gain 1, bias 0, amplitude 1
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
        "study": args.study,
        "n_train": args.n_train,
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
    parser.add_argument("--study", choices=sorted(STUDIES), default="proxy")
    parser.add_argument(
        "--settings", help="names separated by semicolons (default: the study's all)"
    )
    args = parser.parse_args(argv)
    settings = STUDIES[args.study]
    names = list(settings) if not args.settings else args.settings.split(";")
    unknown = [name for name in names if name not in settings]
    if unknown:
        parser.error(f"unknown settings {unknown}; the study has {list(settings)}")
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
