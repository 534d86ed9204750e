"""MNIST benchmark (issue 3): train with soft LIF + noise, convert, evaluate all.

Resumable: run it again to continue training from ``--out/checkpoint.npz``.

    python benchmarks/mnist_reproduce.py --data-dir ../shared/data/mnist --epochs 10
"""

import argparse
import json
import time

from nengo_softlif.data import load_mnist
from nengo_softlif.experiments.experiment import ExperimentConfig, run_experiment
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.training.loop import TrainConfig

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data-dir", required=True)
parser.add_argument("--out", default="runs/mnist-gauss10")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--noise", default="gaussian:10")
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--n-test", type=int, default=None)
parser.add_argument("--minibatch-eval", type=int, default=100)
args = parser.parse_args()

t0 = time.perf_counter()
record = run_experiment(
    get_task("mnist"),
    load_mnist(args.data_dir),
    args.out,
    TrainConfig(epochs=args.epochs, learning_rate=args.lr, seed=args.seed),
    ExperimentConfig(
        noise=args.noise,
        n_test=args.n_test,
        minibatch_size=args.minibatch_eval,
        hard_forward=False,  # the paper's soft forward
    ),
    progress=True,
)
record.pop("train_history")
print(json.dumps(record, indent=2))
print(f"total wall time {time.perf_counter() - t0:.0f} s")
