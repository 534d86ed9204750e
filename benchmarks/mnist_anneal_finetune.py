"""Beyond the paper: anneal sigma after training to close the soft-to-hard gap.

Loads a trained MNIST checkpoint, fine-tunes it for a few epochs while
``SigmaAnnealing`` lowers sigma towards the hard LIF, then evaluates static
(soft and hard) and spiking errors with the paper's protocol.

    python benchmarks/mnist_anneal_finetune.py --checkpoint runs/mnist/checkpoint.npz \\
        --data-dir ../shared/data/mnist --out runs/mnist-anneal
"""

import argparse
import json
import os
import shutil

from nengo_softlif.data import load_mnist
from nengo_softlif.experiments.experiment import ExperimentConfig, evaluate_checkpoint
from nengo_softlif.experiments.tasks import get_task
from nengo_softlif.network.checkpoint import load_network
from nengo_softlif.training.anneal import SigmaAnnealing
from nengo_softlif.training.loop import TrainConfig, train

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--checkpoint", required=True)
parser.add_argument("--data-dir", required=True)
parser.add_argument("--out", default="runs/mnist-anneal")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--start-sigma", type=float, default=0.006)
parser.add_argument("--end-sigma", type=float, default=0.002)
parser.add_argument("--lr", type=float, default=2e-4)
parser.add_argument("--n-test", type=int, default=None)
parser.add_argument(
    "--anneal-per-epoch",
    action="store_true",
    help="change sigma once per epoch, not every step (the run in docs/results/mnist.md did)",
)
args = parser.parse_args()

task, dataset = get_task("mnist"), load_mnist(args.data_dir)
os.makedirs(args.out, exist_ok=True)
checkpoint = os.path.join(args.out, "checkpoint.npz")
net, pretrained = load_network(args.checkpoint)
train_data, _, _ = task.training_data(dataset)
result = train(
    net,
    train_data,
    TrainConfig(epochs=args.epochs, learning_rate=args.lr, lr_schedule="constant"),
    checkpoint_path=checkpoint,
    resume=False,
    callbacks=[
        SigmaAnnealing(
            args.epochs,
            end=args.end_sigma,
            start=args.start_sigma,
            per_step=not args.anneal_per_epoch,
        )
    ],
    verbose=2,
)
shutil.copy(args.checkpoint, os.path.join(args.out, "before-finetune.npz"))
record, meta = evaluate_checkpoint(
    task, dataset, checkpoint, ExperimentConfig(n_test=args.n_test)
)
record["finetune_history"] = result.history
record["pretrained_epochs"] = pretrained["state"].get("epoch")
record["sigma_after"] = meta["neuron_type"]["sigma"]
print(json.dumps(record, indent=2, default=str))
