"""Keras callbacks for models with the package's neuron layers."""

from nengo_softlif.keras.layers import SoftLIF, tf
from nengo_softlif.training.anneal import SCHEDULES

__all__ = ["SigmaAnnealing"]


class SigmaAnnealing(tf.keras.callbacks.Callback):
    """Anneal the sigma of every `.SoftLIF` layer of the model during ``fit``.

    The Keras counterpart of :class:`nengo_softlif.training.anneal.SigmaAnnealing`: before
    every training step each layer's sigma is set on one schedule over all the
    steps of the ``fit`` call, from the layer's own ``sigma`` to ``end``. A small
    final sigma makes the trained soft network the hard LIF rate network, which
    is what the spiking network computes on average.

    Parameters
    ----------
    end : float
        Final sigma (> 0).
    schedule : str
        One of :data:`nengo_softlif.training.anneal.SCHEDULES` (default geometric).
    """

    def __init__(self, end=0.002, schedule="geometric"):
        super().__init__()
        if not end > 0:
            raise ValueError(f"end sigma must be > 0 (got {end})")
        if schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}"
            )
        self.end, self.schedule = float(end), schedule
        self._step = 0

    def _layers(self):
        return [layer for layer in self.model.layers if isinstance(layer, SoftLIF)]

    def on_train_begin(self, logs=None):
        self._step = 0
        steps = self.params.get("steps") or 1
        self._total = max(steps * self.params.get("epochs", 1) - 1, 1)
        if not self._layers():
            raise ValueError("SigmaAnnealing: the model has no SoftLIF layer")

    def on_train_batch_begin(self, batch, logs=None):
        fraction = min(self._step / self._total, 1.0)
        for layer in self._layers():
            sigma = SCHEDULES[self.schedule](layer.sigma, self.end, fraction)
            layer.sigma_scale.assign(sigma / layer.sigma)
        self._step += 1
