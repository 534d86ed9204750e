"""The options of ``nengo-softlif train``, in groups as ``train --help`` shows them.

The options marked "[default: recipe]" are None when parsed and take their value
from ``--recipe`` (:data:`RECIPE_OPTIONS`; the `.TrainConfig` field each sets is in
:data:`RECIPE_TRAIN_OPTIONS`). Every value is checked when it is parsed, by the
value types of :mod:`~nengo_softlif.experiments.cli_values`.
"""

import argparse

from nengo_softlif.experiments.cli_values import (
    NON_NEGATIVE,
    POSITIVE,
    SIGMA,
    TIME_STEP,
    anneal_end,
    finite,
    int_at_least,
    l2_value,
)
from nengo_softlif.training.config import LR_SCHEDULES
from nengo_softlif.transforms.sparse import POOL_EDGES

__all__ = ["RECIPE_OPTIONS", "RECIPE_TRAIN_OPTIONS", "add_train_options"]

#: Training options whose default comes from --recipe (None here: "the
#: recipe's"), with the `.TrainConfig` field each sets.
RECIPE_TRAIN_OPTIONS = {
    "lr": "learning_rate",
    "schedule": "lr_schedule",
    **{
        name: name
        for name in (
            "optimizer minibatch_size warmup_epochs weight_decay label_smoothing "
            "rate_penalty rate_target init_scale engine nesterov ema_decay cutout "
            "first_layer_scale normalize_gradients weight_levels input_scale l2"
        ).split()
    },
}
#: Options whose default comes from --recipe.
RECIPE_OPTIONS = (*RECIPE_TRAIN_OPTIONS, "anneal_sigma", "hard_forward")


def _noise_help():
    from nengo_softlif.neurons.noise import NOISE_MODELS  # noqa: PLC0415

    return (
        "training noise on the neurons' rates: none, or one of the registered "
        f"models {', '.join(sorted(NOISE_MODELS))} (gaussian:STD in Hz, "
        "dropout:RATE, ...; several joined with +)"
    )


def _add_neurons(group):
    """How the neurons are trained: smoothing, forward pass, noise."""
    group.add_argument("--noise", default="gaussian:10", help=_noise_help())
    group.add_argument(
        "--sigma",
        type=SIGMA,
        default=0.02,
        help="soft LIF smoothing (the softplus width of the threshold, in units of "
        "the threshold current), at most 1",
    )
    group.add_argument(
        "--anneal-sigma",
        type=anneal_end,
        default=None,
        metavar="END",
        help="anneal sigma geometrically to END over training, every step, or "
        "none [default: recipe]",
    )
    group.add_argument(
        "--anneal-per-epoch",
        action="store_true",
        help="with --anneal-sigma: change sigma once per epoch, not every step",
    )
    group.add_argument(
        "--hard-forward",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hard LIF rates in the forward pass, the soft derivative for the "
        "gradient (the trained network is the one that spikes, on average) "
        "[default: recipe]",
    )
    group.add_argument(
        "--loihi-dt",
        type=TIME_STEP,
        default=None,
        metavar="DT",
        help="train for Loihi: the hard forward pass is the rate of Loihi's LIF "
        "neuron at time step DT seconds (it fires on whole steps), the gradient "
        "the soft LIF's (default: nengo's LIF)",
    )


def _add_optimizer(group):
    """Learning rate, optimizer, schedule and engine."""
    group.add_argument(
        "--lr",
        type=finite(0, low_open=True),
        default=None,
        help="peak learning rate [default: recipe]",
    )
    group.add_argument(
        "--optimizer",
        choices=["adam", "sgd", "rmsprop"],
        default=None,
        help="optimizer [default: recipe]",
    )
    group.add_argument(
        "--nesterov",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Nesterov momentum (--optimizer sgd) [default: recipe]",
    )
    group.add_argument(
        "--normalize-gradients",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="divide every parameter array's gradient by its root mean square "
        "before the optimizer's step: steps of the same size (--lr, before "
        "momentum) in every layer (--engine keras) [default: recipe]",
    )
    group.add_argument(
        "--schedule",
        choices=list(LR_SCHEDULES),
        default=None,
        help="learning-rate schedule over the epochs: cosine (to 0), step (/10 at "
        "50%% and 75%%), papers (/10 for the last 20/520 of the epochs, /100 for "
        "the last 10/520, as the papers' runs) [default: recipe]",
    )
    group.add_argument(
        "--warmup-epochs",
        type=finite(0),
        default=None,
        help="linear learning-rate warm-up over this many epochs [default: recipe]",
    )
    group.add_argument(
        "--minibatch-size",
        type=POSITIVE,
        default=None,
        help="images per step [default: recipe]",
    )
    group.add_argument(
        "--engine",
        choices=["nengo-dl", "keras"],
        default=None,
        help="train the network in nengo-dl, or as its tf.keras model (the same "
        "network; faster, and resumes exactly) [default: recipe]",
    )


def _add_regularisation(group):
    """Weight decay, label smoothing, rate penalty, averaging, cutout, rounding."""
    group.add_argument(
        "--weight-decay",
        type=finite(0),
        default=None,
        help="decoupled weight decay on the weights, per unit of learning rate "
        "(--engine keras) [default: recipe]",
    )
    group.add_argument(
        "--l2",
        type=l2_value,
        default=None,
        metavar="C|LAYER=C,...",
        help="L2 penalty on the weights, added to their gradient (as the papers' "
        "cuda-convnet wc): one coefficient, or per layer, e.g. "
        "local1=0.004,local2=0.004,output=0.01 (--engine keras) [default: recipe]",
    )
    group.add_argument(
        "--label-smoothing",
        type=finite(0, high=1, high_open=True),
        default=None,
        help="label smoothing of the loss (--engine keras) [default: recipe]",
    )
    group.add_argument(
        "--rate-penalty",
        type=finite(0),
        default=None,
        help="weight (per Hz^2) of a penalty on firing rates above --rate-target "
        "(--engine keras): fewer spikes per answer [default: recipe]",
    )
    group.add_argument(
        "--rate-target",
        type=finite(0),
        default=None,
        help="rate (Hz) up to which --rate-penalty is zero [default: recipe]",
    )
    group.add_argument(
        "--ema-decay",
        type=finite(0, high=1, high_open=True),
        default=None,
        help="keep a moving average of the parameters with this decay per step "
        "and use it as the trained network (--engine keras; 0: off); step t of a "
        "run uses min(decay, (1 + t) / (10 + t)), so 0.9999 is reached after about "
        "90,000 steps [default: recipe]",
    )
    group.add_argument(
        "--cutout",
        type=NON_NEGATIVE,
        default=None,
        metavar="PIXELS",
        help="zero a random square of this side in every training image (0: off) "
        "[default: recipe]",
    )
    group.add_argument(
        "--weight-levels",
        type=int_at_least(0),
        default=None,
        metavar="N",
        help="train with the weights into neurons rounded, in the forward pass, to "
        "multiples of each layer's largest weight / N (127: Loihi's 8-bit weights; "
        "0: off; --engine keras) [default: recipe]",
    )


def _add_starting_network(group):
    """Where the weights start: their scale, or another checkpoint's."""
    group.add_argument(
        "--init-scale",
        type=finite(0, low_open=True),
        default=None,
        help="factor on the initial weights of the layers with neurons "
        "[default: recipe]",
    )
    group.add_argument(
        "--input-scale",
        type=finite(0, low_open=True),
        default=None,
        help="train as if the images were this many times larger, from the same "
        "initial network: the layers that read them take the optimizer's steps "
        "for that input (255: the papers' pixel values of 0-255; with SGD their "
        "learning rate x this squared; --engine keras) [default: recipe]",
    )
    group.add_argument(
        "--first-layer-scale",
        type=finite(0, low_open=True),
        default=None,
        help="as --input-scale, with the package's initial weights for images "
        "that many times larger (the first layers' initial weights times this; "
        "--engine keras; the trained network reads the usual images) "
        "[default: recipe]",
    )
    group.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="start from the weights of this checkpoint (of the same network), "
        "e.g. to fine-tune it, with a new training state and no rescaling of "
        "the weights; 'pretrained' for the network shipped for --task "
        "(default: fresh weights; a checkpoint in --out is resumed instead)",
    )
    group.add_argument(
        "--pool-edges",
        choices=list(POOL_EDGES),
        default=None,
        help="what the average pools' windows past the image edge divide by: the "
        "pixels they cover (clipped, the papers') or the full window (padded, "
        "what Loihi computes exactly); with --init-from, fine-tunes a network "
        "trained with the other kind [default: clipped]",
    )


def _add_distillation(group):
    """Teachers: trained networks whose answers the network also learns."""
    group.add_argument(
        "--teacher",
        action="append",
        default=None,
        metavar="CHECKPOINT",
        help="also learn this trained network's class probabilities on every "
        "training image (knowledge distillation; repeat for several, whose "
        "probabilities are averaged; 'pretrained' for the network shipped for "
        "--task; or a Keras model file, .keras or .h5, that reads the images as "
        "prepared for the task and gives logits; --engine keras)",
    )
    group.add_argument(
        "--distill-weight",
        type=finite(0, high=1),
        default=None,
        help="weight of the teachers' term in the loss, the labels' having 1 minus "
        "it (with --teacher) [default: 0.9]",
    )
    group.add_argument(
        "--distill-temperature",
        type=finite(0, low_open=True),
        default=None,
        help="temperature of the softmaxes compared with the teachers' (with "
        "--teacher) [default: 2]",
    )


def add_train_options(parser):
    """Add the options of ``train`` to ``parser``, in groups.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``train`` subcommand's parser.
    """
    from nengo_softlif.training.recipes import RECIPES  # noqa: PLC0415

    parser.add_argument(
        "--recipe",
        default="default",
        choices=sorted(RECIPES),
        help="named training settings (the options marked 'recipe' below take "
        "their values from it unless given): default (hard LIF forward, soft "
        "gradient: the trained network is the one that spikes), paper (the "
        "papers' settings: sigma 0.02 throughout), fast (initial weights x2, "
        "warm-up, larger learning rate, sigma annealed), fast-hard (fast's "
        "optimizer with hard LIF forward), sgd-hard (fast-hard with Nesterov SGD "
        "on normalized gradients and weight decay: the shipped CIFAR-10 "
        "network's); see nengo_softlif.training.recipes",
    )
    parser.add_argument(
        "--epochs", type=POSITIVE, default=10, help="total training epochs"
    )
    parser.add_argument(
        "--epochs-this-run",
        type=POSITIVE,
        default=None,
        metavar="N",
        help="stop after N epochs (a chunk of --epochs; run again to go on)",
    )
    parser.add_argument(
        "--train-images",
        type=POSITIVE,
        default=None,
        help="use only the first N training images (default: all)",
    )
    _add_neurons(parser.add_argument_group("neurons in training"))
    _add_optimizer(parser.add_argument_group("optimizer"))
    _add_regularisation(parser.add_argument_group("regularisation"))
    _add_starting_network(parser.add_argument_group("starting network"))
    _add_distillation(parser.add_argument_group("teachers (distillation)"))
