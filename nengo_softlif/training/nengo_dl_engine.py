"""The ``nengo-dl`` training engine: the nengo network trained in nengo-dl."""

import sys

from nengo_softlif.training.optimizer import (
    make_optimizer,
    optimizer_state,
    set_optimizer_state,
)

__all__ = ["NengoDLEngine"]


class NengoDLEngine:
    """Trains the nengo network in a ``nengo_dl.Simulator`` (``sim.fit``).

    Optimizer state is saved and restored; nengo-dl's training noise and data
    order use op-level seeds, so a resumed run is not bit-for-bit the same as one
    that never stopped (use the Keras engine for that).
    """

    def __init__(self, net, config, tf, nengo_dl):
        l2 = any(config.l2.values()) if isinstance(config.l2, dict) else config.l2
        if config.weight_decay or l2:
            raise ValueError(
                "weight_decay and l2 need engine='keras' (nengo-dl merges weights "
                "and biases into shared variables)"
            )
        keras_only = {
            "label_smoothing": config.label_smoothing,
            "rate_penalty": config.rate_penalty,
            "ema_decay": config.ema_decay,
            "first_layer_scale": config.first_layer_scale != 1,
            "input_scale": config.input_scale != 1,
            "normalize_gradients": config.normalize_gradients,
            "weight_levels": config.weight_levels,
        }
        for name, used in keras_only.items():
            if used:
                raise ValueError(f"{name} needs engine='keras'")
        self.tf, self.net, self.config = tf, net, config
        self.sim = nengo_dl.Simulator(
            net,
            minibatch_size=config.minibatch_size,
            seed=config.seed,
            progress_bar=False,
        ).__enter__()
        self.sim.compile(
            optimizer=make_optimizer(tf, config),
            loss={
                net.out_probe: tf.losses.SparseCategoricalCrossentropy(from_logits=True)
            },
            metrics={net.out_probe: tf.metrics.sparse_categorical_accuracy},
        )

    @property
    def optimizer(self):
        return self.sim.keras_model.optimizer

    def state_arrays(self):
        """Training state beyond the parameters (the optimizer's variables)."""
        return {"optimizer": optimizer_state(self.optimizer)}

    def load_state(self, state):
        """Restore :meth:`state_arrays` from a checkpoint."""
        if "optimizer" in state:
            set_optimizer_state(
                self.optimizer,
                self.sim.keras_model.trainable_variables,
                state["optimizer"],
            )

    def train_epoch(
        self, epoch, images, labels, lr_at, callbacks, verbose, keras_callbacks
    ):
        """One epoch; returns its mean loss and accuracy."""
        tf, net, sim = self.tf, self.net, self.sim
        steps = len(images) // self.config.minibatch_size
        for callback in callbacks:
            callback(epoch, sim, net)
        step_callbacks = [
            c.step_callback(epoch, steps, sim, net)
            for c in callbacks
            if hasattr(c, "step_callback")
        ]
        lr = self.optimizer.learning_rate
        set_lr = tf.keras.callbacks.LambdaCallback(
            on_train_batch_begin=lambda step, logs=None: lr.assign(lr_at(step))
        )
        live = verbose == 1 and sys.stdout.isatty()  # Keras's bar: terminals only
        fit = sim.fit(
            {net.inp: images[:, None, :]},
            {net.out_probe: labels[:, None, None]},
            epochs=1,
            verbose=1 if live else 0,
            callbacks=[set_lr]
            + [c for c in step_callbacks if c is not None]
            + list(keras_callbacks),
        )
        logs = {k: float(v[-1]) for k, v in fit.history.items()}
        return {
            "loss": next(v for k, v in logs.items() if k.endswith("loss")),
            "accuracy": next(
                (v for k, v in logs.items() if k.endswith("accuracy")), None
            ),
        }

    def sync(self, net):
        """Write the trained parameters into the nengo objects."""
        self.sim.freeze_params(net)

    def close(self):
        self.sim.__exit__(None, None, None)
