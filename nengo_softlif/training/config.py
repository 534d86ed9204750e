"""Training settings (`TrainConfig`), learning-rate schedules and engines."""

import dataclasses
import math
import os
from collections.abc import Mapping

import numpy as np

__all__ = ["TrainConfig", "LR_SCHEDULES", "TRAINING_ENGINES"]


def _constant(epoch, epochs):
    return 1.0


def _cosine(epoch, epochs):
    return 0.5 * (1 + math.cos(math.pi * min(epoch / max(epochs, 1), 1.0)))


def _step(epoch, epochs):
    # divide by 10 at 50% and 75% of training (cuda-convnet style)
    return 0.1 ** (int(epoch >= 0.5 * epochs) + int(epoch >= 0.75 * epochs))


def _papers(epoch, epochs):
    # the papers' cuda-convnet runs: 500 epochs at the learning rate, then 10 at a
    # tenth of it and 10 at a hundredth (520 in all), scaled to ``epochs``
    return 0.1 ** (int(epoch >= 500 / 520 * epochs) + int(epoch >= 510 / 520 * epochs))


#: Learning-rate schedules: name -> ``factor(epoch, epochs)``, where ``epoch`` is
#: the (fractional) number of epochs done when the step starts.
LR_SCHEDULES = {
    "constant": _constant,
    "cosine": _cosine,
    "step": _step,
    "papers": _papers,
}

_OPTIMIZERS = ("adam", "sgd", "rmsprop")

#: Training engines: name -> ``"module:class"`` (imported when used).
TRAINING_ENGINES = {
    "nengo-dl": "nengo_softlif.training.nengo_dl_engine:NengoDLEngine",
    "keras": "nengo_softlif.keras.engine:KerasEngine",
}


def _default(name):
    return TrainConfig.__dataclass_fields__[name].default


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (the defaults are ours; see the docs for the paper's).

    Parameters
    ----------
    epochs : int
        Total number of epochs (resuming continues up to this number).
    minibatch_size : int
        Images per gradient step.
    optimizer : str
        ``"adam"``, ``"sgd"`` (with ``momentum``) or ``"rmsprop"``.
    learning_rate : float
        Peak learning rate.
    lr_schedule : str
        One of :data:`LR_SCHEDULES`, evaluated before every step at the
        fractional epoch: ``"constant"``, ``"cosine"`` (to 0 at the end),
        ``"step"`` (divided by 10 at 50% and 75% of training) or ``"papers"``
        (the papers' cuda-convnet runs: divided by 10 for the last 20/520 of
        training and by 100 for the last 10/520).
    momentum : float
        SGD momentum.
    seed : int
        Seed of the initialisation-independent randomness: data order,
        augmentation, training noise.
    warmup_epochs : float
        Linear learning-rate warm-up from 0 over this many epochs.
    weight_decay : float
        Decoupled weight decay (AdamW / SGDW style) on the weights (not biases).
    l2 : float or dict of str -> float
        L2 penalty on the weights (not biases), added to their gradient before
        the optimizer's step (coupled, as cuda-convnet's ``wc`` with which the
        papers trained: with momentum it decays the weights ``1 / (1 -
        momentum)`` times faster per step than the same ``weight_decay``;
        ``engine="keras"``): one coefficient for every weight layer, or one
        per layer name (``{"local1": 0.004, "local2": 0.004, "output": 0.01}``,
        the papers' CIFAR-10 settings; layers not named: 0).
    label_smoothing : float
        Label smoothing of the cross-entropy loss.
    init_scale : float
        Factor on the initial weights of every layer with neurons (fresh runs
        only): with the paper's bias at the threshold, it sets how far from the
        threshold the neurons start.
    engine : str
        ``"nengo-dl"`` (the network simulated by nengo-dl) or ``"keras"`` (the
        same network as a tf.keras model, `nengo_softlif.keras.keras_model`:
        the same computation, faster, with exactly resumable training noise).
    rate_penalty : float
        Weight (per Hz squared) of a firing-rate penalty added to the loss: the
        mean over the neuron layers of the mean squared rate above
        ``rate_target`` (``engine="keras"``). Lower rates mean fewer spikes,
        fewer synaptic events and less energy on neuromorphic hardware.
    rate_target : float
        Rates (Hz) up to which the penalty is zero.
    nesterov : bool
        Nesterov momentum (``optimizer="sgd"``).
    ema_decay : float
        Keep an exponential moving average of the parameters with this decay
        per step (0: off; ``engine="keras"``); the averaged parameters are the
        network's (what checkpoints hold, what is evaluated and converted),
        the raw ones stay in the checkpoint's training state. The decay is
        ``min(ema_decay, (1 + t) / (10 + t))`` at step ``t``, so that the
        average forgets the initial weights early in training.
    cutout : int
        Side in pixels of a square set to zero (the mean image, after mean
        subtraction) at a random position of every training image (0: off;
        image tasks).
    first_layer_scale : float
        As ``input_scale`` (the two multiply), and the initial weights of the
        layers that read the input (fresh runs, after ``init_scale``) times
        this too: the training of a network that reads input this many times
        larger, initialised as the package initialises it for the usual
        input (``engine="keras"``).
    input_scale : float
        Train as if the network's input were this many times larger, from the
        same initial network (``engine="keras"``): the layers that read the
        input are trained in that input's units (the gradient of their weights
        times this before the optimizer's step, the step times this after it,
        an ``l2`` penalty applied in those units), so that every optimizer
        takes the steps it would take on that input. With SGD their learning
        rate is in effect multiplied by the square of this, with Adam by this
        (decoupled ``weight_decay`` on those layers too). The papers' networks
        read pixel values of 0-255 minus the mean where the package's images
        are on a 0-1 scale: 255 trains as they did. The trained network reads
        the usual input.
    normalize_gradients : bool
        Divide the gradient of every parameter array (a layer's kernel, its
        biases) by its root mean square before the optimizer's step
        (``engine="keras"``), so that every array takes steps of the same size
        (a root mean square of the learning rate, before momentum), as with
        Adam, whatever the scale of its gradient. A soft LIF network's
        gradients, relative to its weights, differ from layer to layer by
        more than a ReLU network's (its neurons' outputs grow from layer to
        layer); with plain SGD one learning rate cannot suit them all.
    weight_levels : int
        Train with the weights of every layer with neurons rounded, in the
        forward pass, to multiples of its largest magnitude divided by this
        number (the gradient passes straight through the rounding, and the
        optimizer updates the unrounded weights; ``engine="keras"``; 0: off).
        127 is Loihi's signed 8-bit weights as the ``"weights"`` chip change
        models them: a network fine-tuned this way keeps its accuracy when its
        weights are rounded on the chip. The trained network holds the
        unrounded weights.
    """

    epochs: int = 10
    minibatch_size: int = 100
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    seed: int = 0
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    init_scale: float = 1.0
    engine: str = "nengo-dl"
    rate_penalty: float = 0.0
    rate_target: float = 0.0
    nesterov: bool = False
    ema_decay: float = 0.0
    cutout: int = 0
    first_layer_scale: float = 1.0
    normalize_gradients: bool = False
    weight_levels: int = 0
    input_scale: float = 1.0
    l2: float | dict = 0.0
    teachers: tuple = ()
    distill_weight: float = 0.9
    distill_temperature: float = 2.0

    def __post_init__(self):
        self._check_l2()
        self._check_teachers()
        for name in ("epochs", "minibatch_size", "seed", "cutout", "weight_levels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if self.epochs < 0 or self.minibatch_size < 1 or self.seed < 0:
            raise ValueError(
                f"epochs and seed must be >= 0 and minibatch_size >= 1, got epochs="
                f"{self.epochs}, minibatch_size={self.minibatch_size}, seed={self.seed}"
            )
        if self.cutout < 0:
            raise ValueError(f"cutout must be >= 0 pixels, got {self.cutout}")
        if self.weight_levels < 0:
            raise ValueError(
                f"weight_levels must be >= 0, got {self.weight_levels}; 0 turns the "
                "rounding off, 127 is Loihi's 8-bit weights"
            )
        for name in ("nesterov", "normalize_gradients"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(
                    f"{name} must be True or False, got {getattr(self, name)!r}"
                )
        if self.nesterov and self.optimizer != "sgd":
            raise ValueError(
                f"nesterov applies to optimizer='sgd', not {self.optimizer!r}; "
                "set optimizer='sgd' or nesterov=False"
            )
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {_OPTIMIZERS}, got {self.optimizer!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(
                f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.engine not in TRAINING_ENGINES:
            raise ValueError(
                f"engine must be one of {sorted(TRAINING_ENGINES)}, got {self.engine!r}"
            )
        checks = {
            "learning_rate": (self.learning_rate, 0, True, None),
            "momentum": (self.momentum, 0, False, 1),
            "warmup_epochs": (self.warmup_epochs, 0, False, None),
            "weight_decay": (self.weight_decay, 0, False, None),
            "label_smoothing": (self.label_smoothing, 0, False, 1),
            "init_scale": (self.init_scale, 0, True, None),
            "rate_penalty": (self.rate_penalty, 0, False, None),
            "rate_target": (self.rate_target, 0, False, None),
            "ema_decay": (self.ema_decay, 0, False, 1),
            "first_layer_scale": (self.first_layer_scale, 0, True, None),
            "input_scale": (self.input_scale, 0, True, None),
            "distill_weight": (self.distill_weight, 0, False, None),
            "distill_temperature": (self.distill_temperature, 0, True, None),
        }
        for name, (value, low, low_open, high) in checks.items():
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(
                    f"TrainConfig {name} must be a number, got {value!r} (a "
                    f"{type(value).__name__}); e.g. {name}="
                    f"{TrainConfig.__dataclass_fields__[name].default!r}"
                )
            ok = np.isfinite(value) and (value > low if low_open else value >= low)
            if not ok or (high is not None and not value < high):
                bound = f"{'>' if low_open else '>='} {low}" + (
                    f" and < {high}" if high is not None else ""
                )
                raise ValueError(
                    f"TrainConfig {name} must be finite and {bound}, got {value}"
                )
        for name in ("distill_weight", "distill_temperature"):
            value = getattr(self, name)
            if not self.teachers and value != _default(name):
                raise ValueError(
                    f"TrainConfig {name}={value} acts only with teachers: give "
                    f"teachers=(...), or leave {name} at {_default(name)}"
                )
        if self.distill_weight > 1:
            raise ValueError(
                f"TrainConfig distill_weight must be in [0, 1], got "
                f"{self.distill_weight} (1: the teachers' answers only)"
            )

    def _check_teachers(self):
        """``teachers``: checkpoint or Keras model paths, as a tuple of str; keras
        engine only."""
        teachers = self.teachers
        if isinstance(teachers, (str, bytes)) or not isinstance(
            teachers, (tuple, list)
        ):
            raise TypeError(
                f"teachers must be a sequence of paths (checkpoints or Keras models), "
                f"got {teachers!r}; "
                'e.g. teachers=("runs/a/checkpoint.npz",)'
            )
        paths = []
        for path in teachers:
            try:
                paths.append(str(os.fspath(path)))
            except TypeError:
                raise TypeError(
                    f"teachers must be paths of checkpoints or Keras models, got "
                    f"{path!r}"
                ) from None
        object.__setattr__(self, "teachers", tuple(paths))
        if paths and self.engine != "keras":
            raise ValueError(
                f"teachers need engine='keras' (the engine is {self.engine!r}); "
                "set engine='keras' (--engine keras)"
            )

    def _check_l2(self):
        """``l2``: a coefficient >= 0, or layer names -> coefficients (a plain dict)."""
        values = self.l2.items() if isinstance(self.l2, Mapping) else [(None, self.l2)]
        for name, value in values:
            where = "l2" if name is None else f"l2[{name!r}]"
            if name is not None and not isinstance(name, str):
                raise TypeError(
                    f"l2 maps layer names to coefficients, got key {name!r}"
                )
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(
                    f"TrainConfig {where} must be a number, got {value!r}; e.g. "
                    'l2=0.004 or l2={"local1": 0.004, "output": 0.01}'
                )
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(
                    f"TrainConfig {where} must be finite and >= 0, got {value}"
                )
        if isinstance(self.l2, Mapping):  # a plain, ordered dict (settings, JSON)
            object.__setattr__(
                self, "l2", {k: float(v) for k, v in sorted(self.l2.items())}
            )

    def l2_of(self, layer):
        """The L2 coefficient of the weights of layer ``layer``."""
        if isinstance(self.l2, Mapping):
            return self.l2.get(layer, 0.0)
        return float(self.l2)

    def learning_rate_at(self, epoch):
        """Learning rate of a step that starts after ``epoch`` (fractional) epochs."""
        factor = LR_SCHEDULES[self.lr_schedule](epoch, self.epochs)
        if self.warmup_epochs > 0:
            factor *= min(1.0, epoch / self.warmup_epochs)
        return self.learning_rate * factor
