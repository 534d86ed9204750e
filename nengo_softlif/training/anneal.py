"""Smoothing annealing: lower the soft LIF's sigma during training.

The paper suggests annealing the smoothing towards the hard neuron for neurons
with harsher discontinuities. :class:`SigmaAnnealing` is a training callback for
:func:`nengo_softlif.training.loop.train`: it sets the sigma of every `.SoftLIFRate` in
the running nengo-dl simulator before every training step (or, with
``per_step=False``, before every epoch), through that simulator's sigma scale
(:func:`nengo_softlif.dl.neuron_builders.sigma_scale`), so nothing is rebuilt,
the optimizer keeps its state and other simulators are not affected; and it writes the annealed sigma into the network's neuron types
after every epoch, so that checkpoints and later evaluations use it.
"""

import math
import weakref

from nengo_softlif.neurons.softlif import SoftLIFRate, replace_params

__all__ = ["SigmaAnnealing", "SCHEDULES"]


def _geometric(start, end, fraction):
    return start * (end / start) ** fraction


def _linear(start, end, fraction):
    return start + (end - start) * fraction


def _cosine(start, end, fraction):
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * fraction))


#: Annealing schedules: ``f(start, end, fraction of training done) -> sigma``.
SCHEDULES = {"geometric": _geometric, "linear": _linear, "cosine": _cosine}


class SigmaAnnealing:
    """Anneal every `.SoftLIFRate`'s sigma from its value to ``end`` over training.

    Parameters
    ----------
    epochs : int
        Total epochs of the training run (the schedule reaches ``end`` at the
        last training step, or at the last epoch with ``per_step=False``).
    end : float
        Final sigma (> 0; the hard LIF is the limit 0).
    schedule : str
        One of :data:`SCHEDULES` (default geometric: a constant factor per step).
    start : float, optional
        Initial sigma; by default the network's neuron type's sigma at the start.
    per_step : bool
        Change sigma before every minibatch step (default), so that even a
        single epoch is annealed; False changes it before every epoch only (a
        one-epoch run is then not annealed at all).

    Notes
    -----
    :func:`~nengo_softlif.training.loop.train` calls the instance before every epoch
    (``anneal(epoch, sim, net)``) and, for the steps, adds the Keras callback
    returned by :meth:`step_callback` to that epoch's ``sim.fit``.
    """

    def __init__(
        self, epochs, end=0.002, schedule="geometric", start=None, per_step=True
    ):
        if not end > 0:
            raise ValueError(
                f"end sigma must be > 0 (got {end}); the hard LIF is the limit"
            )
        if schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {sorted(SCHEDULES)}, got {schedule!r}"
            )
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1 (got {epochs})")
        self.epochs, self.end, self.schedule, self.start = epochs, end, schedule, start
        self.per_step = bool(per_step)
        self._start_arg = start
        self._built = None  # (weak reference to the simulator, its built sigma)

    def describe(self):
        """JSON description (stored with a checkpoint's training settings)."""
        return {
            "type": type(self).__name__,
            "epochs": self.epochs,
            "end": self.end,
            "schedule": self.schedule,
            "start": self._start_arg,
            "per_step": self.per_step,
        }

    def sigma_for_step(self, epoch, step, steps_per_epoch, net):
        """Sigma for ``step`` of ``epoch`` (the Keras training engine calls this).

        With ``per_step=False`` it is the epoch's sigma for every step.
        """
        if self.start is None:
            self.start = _base_sigma(net)
        if self.per_step:
            return self.sigma_at(epoch, self.start, step, steps_per_epoch)
        return self.sigma_at(epoch, self.start)

    def sigma_at(self, epoch, start, step=0, steps_per_epoch=1):
        """Sigma used during ``step`` (0-based) of ``epoch`` (0-based).

        Training has ``epochs * steps_per_epoch`` steps; the schedule goes from
        ``start`` at the first to ``end`` at the last. With the default
        ``steps_per_epoch=1`` this is the per-epoch schedule.
        """
        total = self.epochs * steps_per_epoch
        fraction = min((epoch * steps_per_epoch + step) / max(total - 1, 1), 1.0)
        return SCHEDULES[self.schedule](start, self.end, fraction)

    def _prepare(self, sim, net):
        if self.start is None:
            self.start = _base_sigma(net)
        if self._built is None or self._built[0]() is not sim:
            # the simulator was built with the network's sigma at that moment
            self._built = (weakref.ref(sim), _base_sigma(net))

    def __call__(self, epoch, sim, net):
        """Set the per-epoch sigma for ``epoch`` (``train`` calls this first).

        A training loop that only calls this (not :meth:`step_callback`) gets
        the per-epoch schedule, which reaches ``end`` at the last epoch; with
        ``train``, the step callback replaces the value before the first step.
        """
        self._prepare(sim, net)
        sigma = self.sigma_at(epoch, self.start)
        self._apply(sigma, sim)
        set_sigma(net, sigma)

    def step_callback(self, epoch, steps_per_epoch, sim, net):
        """Keras callback that anneals before every step of ``epoch``, or None.

        Parameters
        ----------
        epoch : int
            The epoch (0-based) that the ``sim.fit`` call trains.
        steps_per_epoch : int
            Minibatch steps in that epoch.
        sim : nengo_dl.Simulator
            The running simulator (after calling this annealer for this epoch).
        net : nengo.Network
            The network; its neuron types get the epoch's last sigma at the end
            of the epoch.

        Returns
        -------
        tf.keras.callbacks.Callback or None
            None with ``per_step=False``.
        """
        if not self.per_step:
            return None
        import tensorflow as tf  # noqa: PLC0415  (nengo-dl is running here)

        self._prepare(sim, net)

        last = []

        def begin(step, logs=None):
            sigma = self.sigma_at(epoch, self.start, step, steps_per_epoch)
            self._apply(sigma, sim)
            last[:] = [sigma]

        def end(_epoch, logs=None):
            if last:
                set_sigma(net, last[0])

        return tf.keras.callbacks.LambdaCallback(
            on_train_batch_begin=begin, on_epoch_end=end
        )

    def _apply(self, sigma, sim):
        from nengo_softlif import dl  # noqa: PLC0415  (nengo-dl is running here)

        dl.simulator_sigma_scale(sim).assign(sigma / self._built[1])

    def on_train_end(self, net):
        """Forget the simulator: the network's neuron types now hold the sigma.

        The scale belonged to the training simulator only; a simulator built
        from ``net`` afterwards uses the annealed sigma with a scale of 1.
        """
        self._built = None


def _base_sigma(net):
    sigmas = {
        ens.neuron_type.sigma
        for ens in net.all_ensembles
        if isinstance(ens.neuron_type, SoftLIFRate)
    }
    if len(sigmas) != 1:
        raise ValueError(
            f"SigmaAnnealing needs one sigma in the network, found {sorted(sigmas)}; "
            "pass start= explicitly"
        )
    return sigmas.pop()


def set_sigma(net, sigma):
    """Give every `.SoftLIFRate` of ``net`` (and ``net.neuron_type``) this sigma."""
    for ens in net.all_ensembles:
        if isinstance(ens.neuron_type, SoftLIFRate):
            ens.neuron_type = replace_params(ens.neuron_type, sigma=sigma)
    if isinstance(getattr(net, "neuron_type", None), SoftLIFRate):
        net.neuron_type = replace_params(net.neuron_type, sigma=sigma)
