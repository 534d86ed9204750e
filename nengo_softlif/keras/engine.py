"""Training a package network as its tf.keras model (``TrainConfig(engine="keras")``).

The network's rate version is built with :func:`nengo_softlif.keras.keras_model`
(the same currents, neurons, noise and read-out as in nengo-dl) and trained with a
compiled training step; after every epoch its parameters are written back into
the nengo objects, so checkpoints, conversion to spikes and evaluation are those
of a network trained in nengo-dl. Resuming is exact: the checkpoint holds the
optimizer's variables and the layers' noise counters, the data of each epoch
depends only on ``(seed, epoch)``, and the learning rate only on the step.
"""

import numpy as np

from nengo_softlif.console import Progress
from nengo_softlif.keras.layers import RateNeurons, SoftLIF
from nengo_softlif.keras.models import keras_model, keras_params
from nengo_softlif.training.anneal import set_sigma
from nengo_softlif.training.loop import input_layers
from nengo_softlif.training.optimizer import (
    make_optimizer,
    optimizer_state,
    set_optimizer_state,
)

__all__ = ["KerasEngine"]


def _forward(tf, model, rate_penalty, rate_target):
    """``forward(x) -> (logits, rate penalty)`` of a training step.

    The penalty is ``rate_penalty`` times the mean over the neuron layers of the
    mean squared rate (Hz, before the amplitude) above ``rate_target``.
    """
    if not rate_penalty:
        return lambda x: (model(x, training=True), 0.0)
    layers = [layer for layer in model.layers if isinstance(layer, RateNeurons)]
    if not layers:
        raise ValueError("rate_penalty needs a network with neuron layers")
    probed = tf.keras.Model(
        model.inputs, [model.output] + [layer.output for layer in layers]
    )

    def forward(x):
        logits, *outputs = probed(x, training=True)
        excess = [
            tf.reduce_mean(tf.nn.relu(out / layer.amplitude - rate_target) ** 2)
            for out, layer in zip(outputs, layers, strict=True)
        ]
        return logits, rate_penalty * tf.add_n(excess) / len(excess)

    return forward


def _normalized(tf, grad):
    """``grad`` divided by its root mean square (`.TrainConfig.normalize_gradients`)."""
    if grad is None:
        return None
    rms = tf.sqrt(tf.reduce_mean(tf.square(grad)))
    return tf.math.divide_no_nan(grad, rms)


def _kernels(model, names):
    """The Keras kernels (not biases) of the layers ``names`` that have one."""
    layers = (model.get_layer(name) for name in names)
    return {layer.name: layer.kernel for layer in layers if hasattr(layer, "kernel")}


def _neuron_kernels(model, net):
    """The Keras kernels of the weight layers whose outputs go to neurons."""
    names = [name for name, built in net.layers.items() if built.ensemble is not None]
    return list(_kernels(model, names).values())


def _rounded(tf, kernel, levels):
    """``kernel`` rounded to multiples of ``max|kernel| / levels``."""
    step = tf.reduce_max(tf.abs(kernel)) / levels
    return tf.math.multiply_no_nan(tf.round(tf.math.divide_no_nan(kernel, step)), step)


def _input_kernels(model, net):
    """The Keras kernels of the weight layers that read the network's input."""
    return list(_kernels(model, input_layers(net)).values())


def _penalised(grad, var, scale, l2):
    """The gradient of ``var`` in the units of an input ``scale`` times larger
    (the gradient times ``scale``, the weights divided by it), with its L2
    penalty ``l2`` (`.TrainConfig.input_scale`, `.TrainConfig.l2`)."""
    if grad is None:
        return None
    grad = scale * grad
    return grad + (l2 / scale) * var if l2 else grad


def _l2_coefficients(model, net, config, variables):
    """`.TrainConfig.l2` per variable of ``variables`` (the weight layers' kernels)."""
    kernels = _kernels(model, net.layers)
    if isinstance(config.l2, dict):
        unknown = sorted(set(config.l2) - set(kernels))
        if unknown:
            raise ValueError(
                f"TrainConfig l2 names {unknown}, not weight layers of this network; "
                f"its weight layers are {list(kernels)}"
            )
    coefficient = {kernel.ref(): config.l2_of(name) for name, kernel in kernels.items()}
    return [coefficient.get(v.ref(), 0.0) for v in variables]


def _loss(tf, net, config, loss_fn, n_classes, teacher_offsets):
    """``loss(x, y, logits)``: the labels' cross-entropy, with the teachers'
    term if `.TrainConfig` ``teachers`` names any (`.distillation_loss`)."""

    def hard(x, y, logits):
        return loss_fn(tf.one_hot(y, n_classes), logits)

    if not config.teachers:
        return hard
    from nengo_softlif.training.distillation import (  # noqa: PLC0415
        distillation_loss,
        load_teachers,
    )

    teachers = load_teachers(config.teachers, net)
    distill = distillation_loss(
        tf,
        teachers,
        config.distill_temperature,
        config.distill_weight,
        offsets=teacher_offsets,
    )
    return lambda x, y, logits: distill(x, logits, hard(x, y, logits))


class KerasEngine:
    """Trains a `.SoftLIFNetwork` as its Keras model (see the module docstring)."""

    def __init__(self, net, config, tf, nengo_dl=None, teacher_offsets=None):
        self.tf, self.net, self.config = tf, net, config
        self.model = keras_model(net, seed=config.seed)
        self.optimizer = make_optimizer(tf, config)
        if config.weight_decay:
            self.optimizer.exclude_from_weight_decay(var_names=["bias"])
        self.soft_layers = [
            layer for layer in self.model.layers if isinstance(layer, SoftLIF)
        ]
        n_classes = int(self.model.output_shape[-1])
        smoothing = float(config.label_smoothing)
        loss_fn = tf.keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=smoothing
        )
        model, optimizer = self.model, self.optimizer
        variables = model.trainable_variables
        forward = _forward(tf, model, config.rate_penalty, config.rate_target)
        loss_of = _loss(tf, net, config, loss_fn, n_classes, teacher_offsets)
        # the moving average starts at the network's parameters (on resume, the
        # averaged ones the checkpoint holds; `load_state` restores the raw ones)
        self.averages = [
            tf.Variable(v, trainable=False) for v in variables if config.ema_decay
        ]
        averages, decay = self.averages, float(config.ema_decay)
        # `TrainConfig.input_scale` (and `first_layer_scale`): these variables are
        # trained in the units of the scaled input
        scale = float(config.first_layer_scale) * float(config.input_scale)
        scaled = _input_kernels(model, net) if scale != 1 else []
        gradient_scales = [
            scale if any(v is s for s in scaled) else 1.0 for v in variables
        ]
        l2 = _l2_coefficients(model, net, config, variables)
        normalize = bool(config.normalize_gradients)
        # `TrainConfig.weight_levels`: the forward pass sees rounded kernels
        levels = int(config.weight_levels)
        rounded = _neuron_kernels(model, net) if levels else []

        @tf.function
        def step(x, y, lr):
            optimizer.learning_rate.assign(lr)
            exact = [v.read_value() for v in rounded]
            for var in rounded:
                var.assign(_rounded(tf, var, levels))
            with tf.GradientTape() as tape:
                logits, penalty = forward(x)
                loss = loss_of(x, y, logits) + penalty
            grads = tape.gradient(loss, variables)
            for var, value in zip(rounded, exact, strict=True):
                var.assign(value)
            if scaled or any(l2):
                grads = [
                    _penalised(g, v, s, c)
                    for g, v, s, c in zip(
                        grads, variables, gradient_scales, l2, strict=True
                    )
                ]
            if normalize:
                grads = [_normalized(tf, g) for g in grads]
            before = [v.read_value() for v in scaled]
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            for var, old in zip(scaled, before, strict=True):
                var.assign(old + scale * (var - old))
            if averages:
                t = tf.cast(optimizer.iterations, tf.float32) - 1.0
                d = tf.minimum(decay, (1.0 + t) / (10.0 + t))
                for average, var in zip(averages, variables, strict=True):
                    average.assign(d * average + (1.0 - d) * var)
            correct = tf.cast(
                tf.equal(tf.argmax(logits, -1, output_type=y.dtype), y), tf.float32
            )
            return loss, tf.reduce_mean(correct)

        self._step = step

    def state_arrays(self):
        """Optimizer variables, the model's non-trainable state (noise counters)
        and, with a moving average, the raw parameters."""
        state = {
            "optimizer": optimizer_state(self.optimizer),
            "model_state": [v.numpy() for v in self.model.non_trainable_variables],
        }
        if self.averages:
            state["raw_params"] = [v.numpy() for v in self.model.trainable_variables]
        return state

    def load_state(self, state):
        """Restore :meth:`state_arrays` from a checkpoint."""
        if "optimizer" in state:
            set_optimizer_state(
                self.optimizer, self.model.trainable_variables, state["optimizer"]
            )
        if "model_state" in state:
            for var, value in zip(
                self.model.non_trainable_variables, state["model_state"], strict=True
            ):
                var.assign(value)
        if self.averages and "raw_params" in state:
            for var, value in zip(
                self.model.trainable_variables, state["raw_params"], strict=True
            ):
                var.assign(value)

    def _annealers(self, callbacks):
        annealers = []
        for callback in callbacks:
            if not hasattr(callback, "sigma_for_step"):
                raise TypeError(
                    f"{type(callback).__name__} is a nengo-dl training callback; with "
                    "engine='keras' only callbacks with a sigma_for_step method (such "
                    "as SigmaAnnealing) are supported"
                )
            annealers.append(callback)
        return annealers

    def _set_sigma(self, sigma):
        for layer in self.soft_layers:
            layer.sigma_scale.assign(sigma / layer.sigma)

    def train_epoch(
        self, epoch, images, labels, lr_at, callbacks, verbose, keras_callbacks
    ):
        """One epoch of minibatch steps; returns its mean loss and accuracy."""
        if keras_callbacks:
            raise ValueError("keras_callbacks are for engine='nengo-dl'")
        tf, batch = self.tf, self.config.minibatch_size
        annealers = self._annealers(callbacks)
        steps = len(images) // batch
        labels = labels.astype(np.int64)
        losses, accuracies, sigma = [], [], None
        progress = (
            Progress(steps * batch, f"epoch {epoch + 1}/{self.config.epochs}", "images")
            if verbose == 1
            else None
        )
        for i in range(steps):
            for annealer in annealers:
                sigma = annealer.sigma_for_step(epoch, i, steps, self.net)
                self._set_sigma(sigma)
            x = tf.constant(images[i * batch : (i + 1) * batch])
            y = tf.constant(labels[i * batch : (i + 1) * batch])
            loss, acc = self._step(x, y, tf.constant(lr_at(i), tf.float32))
            losses.append(loss)
            accuracies.append(acc)
            if progress is not None and progress.live:
                progress.update(
                    (i + 1) * batch,
                    loss=float(np.mean([float(v) for v in losses[-20:]])),
                    accuracy=float(np.mean([float(v) for v in accuracies[-20:]])),
                )
        if progress is not None:
            progress.close()
        if sigma is not None:
            set_sigma(self.net, sigma)
        return {
            "loss": float(np.mean([float(v) for v in losses])),
            "accuracy": float(np.mean([float(v) for v in accuracies])),
        }

    def sync(self, net):
        """Write the trained parameters (their moving average, if kept) into the
        nengo objects."""
        from nengo_softlif.network.checkpoint import set_params  # noqa: PLC0415

        if not self.averages:
            set_params(net, keras_params(self.model, net))
            return
        variables = self.model.trainable_variables
        raw = [v.numpy() for v in variables]
        for var, average in zip(variables, self.averages, strict=True):
            var.assign(average)
        try:
            set_params(net, keras_params(self.model, net))
        finally:
            for var, value in zip(variables, raw, strict=True):
                var.assign(value)

    def close(self):
        pass
