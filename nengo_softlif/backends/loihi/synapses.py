"""The first-order low-pass that replaces each alpha synapse into the chip.

Loihi filters a core's input with one first-order low-pass: :func:`loihi_synapse`
maps a connection's synapse onto it (``Alpha(tau)`` becomes ``Lowpass(2 tau)``,
same mean delay and white-noise power) and :func:`synapse_comparison` measures
how the replacement differs from the alpha synapse on regular spike trains.
"""

import warnings

import nengo
import numpy as np

from nengo_softlif.compat import filter_signal

__all__ = ["loihi_synapse", "synapse_comparison"]


def loihi_synapse(synapse, synapse_tau=None):
    """The first-order synapse that replaces ``synapse`` on the chip.

    Parameters
    ----------
    synapse : `nengo.synapses.Synapse` or None
        The synapse of a connection into the chip.
    synapse_tau : float, optional
        Time constant of the replacement low-pass; by default twice the alpha
        time constant (same mean delay and white-noise power as the alpha).

    Returns
    -------
    `nengo.Lowpass` or None
        None stays None, a low-pass stays itself, ``Alpha(tau)`` becomes
        ``Lowpass(synapse_tau or 2 * tau)``.

    Raises
    ------
    TypeError
        For other synapses (Loihi has only a first-order filter per core).
    """
    if synapse is None or isinstance(synapse, nengo.Lowpass):
        return synapse
    if isinstance(synapse, nengo.Alpha):
        return nengo.Lowpass(2 * synapse.tau if synapse_tau is None else synapse_tau)
    raise TypeError(
        f"Loihi filters on-chip inputs with one first-order low-pass; cannot map "
        f"{synapse} onto it. Use nengo.Alpha, nengo.Lowpass or None"
    )


def synapse_comparison(
    tau=0.005, synapse_tau=None, rates=(10, 20, 50, 100, 200), dt=0.001, duration=4.0
):
    """How the on-chip low-pass differs from the alpha synapse it replaces.

    Regular spike trains (as LIF neurons fire under constant input) at each rate
    are filtered by ``Alpha(tau)``, by its replacement ``Lowpass(synapse_tau or
    2 tau)`` and by ``Lowpass(tau)``; the variability is the standard deviation
    of the filtered train over its mean, after the filter has settled.

    Parameters
    ----------
    tau : float
        Alpha time constant (the paper: 5 ms).
    synapse_tau : float, optional
        Replacement time constant (default ``2 * tau``).
    rates : sequence of float
        Firing rates (Hz).
    dt, duration : float
        Time step and length (s) of the filtered trains.

    Returns
    -------
    dict
        ``synapses``: names; ``mean_delay_s`` and ``noise_power`` (integral of the
        squared impulse response, 1/s) per synapse; ``step_response_ms``: steps to
        10, 50 and 90% of a step per synapse; ``variability``: rate -> coefficient
        of variation per synapse.
    """
    chip = loihi_synapse(nengo.Alpha(tau), synapse_tau)
    synapses = {
        f"Alpha({tau:g})": nengo.Alpha(tau),
        f"Lowpass({chip.tau:g})": chip,
        f"Lowpass({tau:g})": nengo.Lowpass(tau),
    }
    n = int(round(duration / dt))
    result = {
        "synapses": list(synapses),
        "mean_delay_s": {},
        "noise_power": {},
        "step_response_ms": {},
        "variability": {},
    }
    with warnings.catch_warnings():
        # nengo 3.2's filt warns on numpy >= 1.25 (array-to-scalar conversion)
        warnings.simplefilter("ignore", DeprecationWarning)
        return _compare_synapses(synapses, rates, dt, n, result)


def _compare_synapses(synapses, rates, dt, n, result):
    for name, syn in synapses.items():
        alpha = isinstance(syn, nengo.Alpha)
        result["mean_delay_s"][name] = (2 if alpha else 1) * syn.tau
        result["noise_power"][name] = 1 / ((4 if alpha else 2) * syn.tau)
        step = filter_signal(syn, np.ones(int(round(0.2 / dt))), dt)
        result["step_response_ms"][name] = [
            float(np.argmax(step >= q) * dt * 1000) for q in (0.1, 0.5, 0.9)
        ]
    for rate in rates:
        spikes = np.zeros(n)
        times = np.arange(0.0123, n * dt, 1.0 / rate)  # phase off the grid
        spikes[(times / dt).astype(int)] = 1 / dt
        row = {}
        for name, syn in synapses.items():
            filtered = filter_signal(syn, spikes, dt)[n // 2 :]
            row[name] = float(filtered.std() / filtered.mean())
        result["variability"][float(rate)] = row
    return result
