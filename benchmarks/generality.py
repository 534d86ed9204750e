"""The method on another neuron: the soft refractory rectified-linear neuron.

Trains the paper's MNIST network (bundled 3,000/1,000 sample by default) with
:class:`nengo_softlif.neurons.refractory_relu.SoftRefractoryRectifiedLinear` neurons
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
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from nengo_softlif.data import load_dataset
from nengo_softlif.experiments.sweep import Setting, run_sweep, summary_table
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.neurons.noise import parse_noise
from nengo_softlif.neurons.refractory_relu import SoftRefractoryRectifiedLinear
from nengo_softlif.neurons.softlif import LIFParams
from nengo_softlif.training.loop import TrainConfig

from _common import write_results

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
    settings = [
        Setting(
            noise,
            experiment={
                "sigma": args.sigma,
                "noise": noise,
                "n_test": args.n_test,
                "spiking_backend": "nengo-dl",
            },
            network={
                "neuron_type": SoftRefractoryRectifiedLinear(
                    sigma=args.sigma,
                    tau_ref=PARAMS.tau_ref,
                    amplitude=PARAMS.amplitude,
                    noise=parse_noise(noise),
                ),
                "lif_params": PARAMS,
            },
        )
        for noise in args.noises.split(",")
    ]
    records = run_sweep(
        task,
        dataset,
        args.out,
        settings,
        [args.seed],
        TrainConfig(epochs=args.epochs),
        log=lambda line: print(line, flush=True),
    )
    for name, rows in records.items():
        print(
            f"  {name} rates (Hz, spiking):",
            {k: round(v, 1) for k, v in rows[0]["spiking"]["layer_rates_hz"].items()},
            flush=True,
        )
    markdown = summary_table(
        records, label=f"soft refractory ReLU (sigma {args.sigma:g}), training noise"
    )
    print(markdown)
    write_results(args.out, markdown, {"args": vars(args), "records": records})


if __name__ == "__main__":
    main()
