"""The method on another neuron: the soft refractory rectified-linear neuron.

Trains the paper's MNIST network (bundled 3,000/1,000 sample by default) with
:class:`nengo_softlif.refractory_relu.SoftRefractoryRectifiedLinear` neurons
(integrate-and-fire with a 2 ms refractory period, kink at J = 0 smoothed with
sigma = 1 Hz; gain 100 and amplitude 0.01, so the slope near zero is 1 and the
output saturates at 5), with and without the paper's Gaussian training noise,
converts the trained network to ``nengo.RegularSpiking`` neurons at the hard rate
(Alpha 5 ms synapses) and evaluates it statically (soft and hard) and as spikes
with the paper's protocol on nengo-dl (the fast backend is LIF-only).

Examples
--------
::

    python benchmarks/generality.py --out runs/generality            # ~25 min
    python benchmarks/generality.py --epochs 1 --n-test 50 --out /tmp/g  # smoke
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from nengo_softlif.atomic import atomic_write_bytes  # noqa: E402
from nengo_softlif.data import load_dataset  # noqa: E402
from nengo_softlif.experiment import (  # noqa: E402
    ExperimentConfig,
    evaluate_checkpoint,
    train_task,
)
from nengo_softlif.neurons import LIFParams  # noqa: E402
from nengo_softlif.noise import parse_noise  # noqa: E402
from nengo_softlif.refractory_relu import SoftRefractoryRectifiedLinear  # noqa: E402
from nengo_softlif.tasks import get_task  # noqa: E402
from nengo_softlif.train import TrainConfig  # noqa: E402

#: Gain and amplitude of the layers (tau_rc is unused by this neuron).
PARAMS = LIFParams(tau_rc=0.02, tau_ref=0.002, amplitude=0.01, gain=100.0, bias=0.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="mnist-sample")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/generality")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigma", type=float, default=1.0)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--noises", default="gaussian:10,none")
    args = parser.parse_args(argv)
    task = get_task(args.task)
    dataset = load_dataset(args.task, data_dir=args.data_dir)
    lines = [
        "| neuron | training noise | static soft % | static hard % | spiking % | "
        "gap % |",
        "|---|---|---|---|---|---|",
    ]
    records = {}
    for noise in args.noises.split(","):
        out_dir = os.path.join(args.out, noise.replace(":", ""))
        config = ExperimentConfig(
            sigma=args.sigma,
            noise=noise,
            n_test=args.n_test,
            spiking_backend="nengo-dl",
        )
        neuron = SoftRefractoryRectifiedLinear(
            sigma=args.sigma,
            tau_ref=PARAMS.tau_ref,
            amplitude=PARAMS.amplitude,
            noise=parse_noise(noise),
        )
        start = time.perf_counter()
        train_task(
            task,
            dataset,
            out_dir,
            TrainConfig(epochs=args.epochs, seed=args.seed),
            config,
            verbose=0,
            neuron_type=neuron,
            lif_params=PARAMS,
        )
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        evaluation, _ = evaluate_checkpoint(
            task, dataset, os.path.join(out_dir, "checkpoint.npz"), config
        )
        record = dict(evaluation, train_s=train_s, eval_s=time.perf_counter() - start)
        records[noise] = record
        soft, hard, spiking = (
            100 * record[k]["error"] for k in ("static_soft", "static_hard", "spiking")
        )
        lines.append(
            f"| soft refractory ReLU (sigma {args.sigma:g}) | {noise} | {soft:.2f} | "
            f"{hard:.2f} | {spiking:.2f} | {spiking - soft:.2f} |"
        )
        print(lines[-1], flush=True)
        print(
            "  rates (Hz, spiking):",
            {k: round(v, 1) for k, v in record["spiking"]["layer_rates_hz"].items()},
            flush=True,
        )
    markdown = "\n".join(lines)
    print(markdown)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_bytes(os.path.join(args.out, "results.md"), (markdown + "\n").encode())
    atomic_write_bytes(
        os.path.join(args.out, "results.json"),
        json.dumps({"args": vars(args), "records": records}, indent=2).encode(),
    )


if __name__ == "__main__":
    main()
