"""The physics of a filtered LIF spike train: what the next layer sees.

A LIF neuron driven by a constant current fires regularly; the next layer sees
its spikes filtered by the synapse (the alpha filter of the papers), sampled at
an unknown phase of the period. This module holds that train's value at a phase,
its spread over phases (closed forms, used by the spike-matched training noise
models) and its simulated statistics over currents (the paper's Fig. 2), and
the hard LIF rate and its derivative.
"""

import numpy as np

__all__ = [
    "hard_lif_rates",
    "loihi_lif_rates",
    "discretized_lif_time_constants",
    "lif_derivative",
    "alpha_filtered_spike_value",
    "alpha_filtered_spike_std",
    "filtered_spike_statistics",
]


def hard_lif_rates(J, tau_rc, tau_ref, amplitude=1.0):
    """The LIF rate (`nengo.LIFRate`'s) for current ``J``: 0 up to the threshold 1."""
    j = np.asarray(J, dtype=float) - 1.0
    safe = np.where(j > 0, j, 1.0)
    return np.where(j > 0, amplitude / (tau_ref + tau_rc * np.log1p(1.0 / safe)), 0.0)


def discretized_lif_time_constants(tau_rc, tau_ref, dt):
    """The time constants Loihi's LIF neuron really has at time step ``dt``.

    Loihi stores the membrane decay per step in 12 bits and the refractory
    period in whole steps (nengo-loihi's ``discretize_tau_rc`` and
    ``discretize_tau_ref``).

    Returns
    -------
    tau_rc, tau_ref : float
    """
    decay = -np.expm1(-dt / tau_rc)
    decay = np.round(decay * (2**12 - 1)) / (2**12 - 1)
    return -dt / np.log1p(-decay), dt * np.round(tau_ref / dt)


def loihi_lif_rates(J, tau_rc, tau_ref, dt, amplitude=1.0):
    """The rate of Loihi's LIF neuron (nengo-loihi's ``LoihiLIF``) at time step ``dt``.

    Loihi's neurons fire on whole time steps: a neuron whose LIF period is ``T``
    (with the time constants of :func:`discretized_lif_time_constants`) fires
    every ``ceil(T / dt)`` steps, so every rate between ``1 / (2 dt)`` and
    ``1 / dt`` becomes ``1 / (2 dt)``. As nengo-loihi's ``loihi_lif_rates``.

    Parameters
    ----------
    J : array_like
        Input current (threshold at 1).
    tau_rc, tau_ref : float
        The neuron's time constants (s), before discretization.
    dt : float
        The chip's time step (s).
    amplitude : float
        Output scale.
    """
    tau_rc, tau_ref = discretized_lif_time_constants(tau_rc, tau_ref, dt)
    j = np.asarray(J, dtype=float) - 1.0
    safe = np.where(j > 0, j, 1.0)
    period = tau_ref + tau_rc * np.log1p(1.0 / safe)
    return np.where(j > 0, amplitude / (dt * np.ceil(period / dt)), 0.0)


def lif_derivative(J, tau_rc, tau_ref):
    """``d rate / dJ`` of the hard LIF neuron: 0 below ``J = 1``, inf at it."""
    J = np.asarray(J, dtype=float)
    above = J > 1
    x = np.where(above, J - 1, 1.0)
    denom = tau_ref + tau_rc * np.log1p(1.0 / x)
    deriv = tau_rc / denom**2 / (x * (x + 1))
    return np.where(above, deriv, np.where(J == 1, np.inf, 0.0))


def alpha_filtered_spike_value(phase, rate, tau_s):
    """Alpha-filtered regular spike train at a phase of its period (Hz).

    The neuron fires every ``T = 1 / rate`` seconds; spikes are impulses of area
    1 (so the filtered value is in Hz) filtered by ``h(t) = t / tau_s**2 *
    exp(-t / tau_s)``. At time ``phase * T`` after the last spike, summing the
    kernels of all past spikes in closed form (``q = exp(-T / tau_s)``)::

        v = exp(-t / tau_s) / tau_s**2 * (t / (1 - q) + T * q / (1 - q)**2)

    Its mean over a uniform phase is exactly ``rate``.

    Parameters
    ----------
    phase : array_like
        Fraction of the period since the last spike, in [0, 1).
    rate : array_like
        Firing rate (Hz), > 0.
    tau_s : float
        Alpha synapse time constant (s).
    """
    rate = np.asarray(rate, dtype=float)
    period = 1.0 / rate
    t = np.asarray(phase) * period
    q = np.exp(-period / tau_s)
    return np.exp(-t / tau_s) / tau_s**2 * (t / (1 - q) + period * q / (1 - q) ** 2)


def alpha_filtered_spike_std(rate, tau_s):
    """Standard deviation over phase of :func:`alpha_filtered_spike_value` (Hz).

    Closed form of ``sqrt(E[v^2] - rate^2)`` for a uniform phase; 0 where
    ``rate <= 0``.
    """
    rate = np.asarray(rate, dtype=float)
    positive = rate > 0
    r = np.where(positive, rate, 1.0)
    period = 1.0 / r
    q = np.exp(-period / tau_s)
    a, b = 1 / (1 - q), period * q / (1 - q) ** 2
    c = 2.0 / tau_s
    e = np.exp(-c * period)
    i0 = (1 - e) / c
    i1 = (1 - e * (1 + c * period)) / c**2
    i2 = (2 - e * ((c * period) ** 2 + 2 * c * period + 2)) / c**3
    second = (a * a * i2 + 2 * a * b * i1 + b * b * i0) / (period * tau_s**4)
    return np.where(positive, np.sqrt(np.maximum(second - r * r, 0.0)), 0.0)


def _alpha_filtered_train(t, phase, period, tau_s):
    """Alpha-filtered regular spike train (unit-area impulses), exact at times ``t``.

    Spikes at ``phase + k * period`` for ``k = 0, 1, ...``; the filter
    ``h(u) = u / tau_s**2 * exp(-u / tau_s)`` starts at rest at ``t = 0``. The
    sum over all past spikes is in closed form (finite geometric series), so the
    only discretisation is the choice of sample times.
    """
    n = np.where(t >= phase, np.floor((t - phase) / period) + 1, 0.0)
    s = t - phase - (n - 1) * period  # time since the last spike (if n >= 1)
    q = np.exp(-period / tau_s)
    qn = q**n
    sum0 = (1 - qn) / (1 - q)  # sum_{k<n} q^k
    sum1 = q * (1 - n * q ** np.maximum(n - 1, 0) + (n - 1) * qn) / (1 - q) ** 2
    value = np.exp(-s / tau_s) / tau_s**2 * (s * sum0 + period * sum1)
    return np.where(n >= 1, value, 0.0)


def filtered_spike_statistics(
    currents,
    tau_rc,
    tau_ref,
    tau_s=0.005,
    t_total=2.0,
    dt=1e-4,
    t_skip=0.5,
    seed=0,
):
    """Statistics of an alpha-filtered LIF spike train for each input current.

    The data of paper Fig. 2. For a constant current ``J > 1`` a LIF neuron fires
    regularly with period ``tau_ref + tau_rc * log(1 + 1/(J - 1))``; its spike
    train is generated exactly (first spike at a random phase within the first
    period), each spike is an impulse of area 1 (so the filtered value is in Hz),
    and the train is filtered with the alpha synapse
    ``h(t) = t / tau_s**2 * exp(-t / tau_s)`` (exactly, in closed form). The
    filtered value is sampled every ``dt`` in ``[t_skip, t_total)``.

    Since ``h`` has unit area, the time average of the filtered train is the
    LIF rate; the sampled mean matches it up to the edge effect of averaging over
    a window that is not a whole number of periods, a relative error of order
    ``1 / (rate * (t_total - t_skip))`` (below 1 % for rates above ~70 Hz with
    the defaults; lengthen ``t_total`` for lower rates).

    Parameters
    ----------
    currents : array_like
        Input currents ``J`` (threshold at 1), any shape (flattened).
    tau_rc, tau_ref : float
        LIF time constants (s).
    tau_s : float
        Alpha synapse time constant (s).
    t_total : float
        Length of the simulated spike train (s).
    dt : float
        Sampling interval (s); must be below ``tau_s / 5``.
    t_skip : float
        Initial transient left out of the statistics (s).
    seed : int or `numpy.random.Generator`
        Source of the random initial phases.

    Returns
    -------
    dict of str -> ndarray
        Arrays of the shape of ``currents`` (flattened): ``"mean"``,
        ``"median"``, ``"q25"``, ``"q75"``, ``"min"``, ``"max"`` of the filtered
        train (Hz), and ``"rate"``, the analytic LIF rate (Hz). All are 0 for
        ``J <= 1`` (no spikes).
    """
    currents = np.asarray(currents, dtype=float).ravel()
    if not np.all(np.isfinite(currents)):
        raise ValueError("currents must be finite")
    if not tau_rc > 0 or not tau_ref >= 0:
        raise ValueError(f"Need tau_rc > 0 and tau_ref >= 0; got {tau_rc}, {tau_ref}")
    if not tau_s > 0:
        raise ValueError(f"tau_s must be > 0 (got {tau_s})")
    if not 0 < dt <= tau_s / 5:
        raise ValueError(
            f"dt must be in (0, tau_s / 5] = (0, {tau_s / 5:g}] to sample the "
            f"filtered train accurately (got {dt})"
        )
    if not 0 <= t_skip < t_total - dt:
        raise ValueError(
            f"Need 0 <= t_skip < t_total - dt; got t_skip={t_skip}, t_total={t_total}"
        )
    rng = np.random.default_rng(seed)

    n_first = int(np.ceil(t_skip / dt - 1e-9))
    n_last = int(np.ceil(t_total / dt - 1e-9))
    t = np.arange(n_first, n_last) * dt
    keys = ("mean", "median", "q25", "q75", "min", "max")
    stats = {k: np.zeros(currents.size) for k in keys}
    rates = hard_lif_rates(currents, tau_rc, tau_ref)
    for i, J in enumerate(currents):
        if not J > 1:
            rng.random()  # same phases for the other currents whatever the range
            continue
        period = 1.0 / rates[i]
        y = _alpha_filtered_train(t, rng.random() * period, period, tau_s)
        q25, median, q75 = np.percentile(y, [25, 50, 75])
        stats["mean"][i] = y.mean()
        stats["median"][i] = median
        stats["q25"][i] = q25
        stats["q75"][i] = q75
        stats["min"][i] = y.min()
        stats["max"][i] = y.max()
    stats["rate"] = rates
    return stats
