"""Smoothing annealing: lower the soft LIF's sigma during training.

The paper suggests annealing the smoothing towards the hard neuron for neurons
with harsher discontinuities. :class:`SigmaAnnealing` is a training callback for
:func:`nengo_softlif.train.train`: before every epoch it sets the sigma of every
`.SoftLIFRate` in the running nengo-dl simulator (through
``nengo_softlif.dl.SIGMA_SCALE``, so nothing is rebuilt and the optimizer keeps
its state), and writes the annealed sigma into the network's neuron types, so
that checkpoints and later evaluations use it.
"""

import math

from nengo_softlif.neurons import SoftLIFRate, replace_params

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
        last epoch).
    end : float
        Final sigma (> 0; the hard LIF is the limit 0).
    schedule : str
        One of :data:`SCHEDULES` (default geometric: a constant factor per epoch).
    start : float, optional
        Initial sigma; by default the network's neuron type's sigma at the start.
    """

    def __init__(self, epochs, end=0.002, schedule="geometric", start=None):
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

    def sigma_at(self, epoch, start):
        """Sigma used during ``epoch`` (0-based)."""
        fraction = min(epoch / max(self.epochs - 1, 1), 1.0)
        return SCHEDULES[self.schedule](start, self.end, fraction)

    def __call__(self, epoch, sim, net):
        """Set the sigma for ``epoch`` (called by ``train`` before each epoch)."""
        from nengo_softlif import dl  # noqa: PLC0415  (nengo-dl is running here)

        if self.start is None:
            self.start = _base_sigma(net)
        built_sigma = getattr(sim, "_softlif_built_sigma", None)
        if built_sigma is None:
            # the simulator was built with the network's sigma at that moment
            built_sigma = sim._softlif_built_sigma = _base_sigma(net)
        sigma = self.sigma_at(epoch, self.start)
        dl.SIGMA_SCALE.assign(sigma / built_sigma)
        set_sigma(net, sigma)

    def on_train_end(self, net):
        """Reset the global scale: the network's neuron types now hold the sigma."""
        from nengo_softlif import dl  # noqa: PLC0415

        dl.SIGMA_SCALE.assign(1.0)


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
