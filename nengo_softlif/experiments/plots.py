"""Figures of the paper (Hunsberger & Eliasmith 2015) and of evaluation results.

Every ``plot_*`` function writes one PNG to the given path (creating its parent
folders) and returns that path as a `pathlib.Path`. Figures are drawn on a
`matplotlib.figure.Figure` with an explicit Agg canvas, so no global matplotlib
state (backend, pyplot figure list, rcParams) is touched, and matplotlib is only
imported when a figure is drawn (``import nengo_softlif.experiments.plots`` is cheap).

- :func:`plot_rate_curves`: paper Fig. 1, LIF and soft LIF response curves and
  their derivatives.
- :func:`filtered_spike_statistics` and :func:`plot_spike_variability`: paper
  Fig. 2, variability of an alpha-filtered LIF spike train against input current.
- :func:`plot_layer_rates`: mean firing rate of each layer (grouped bars).
- :func:`error_vs_time` and :func:`plot_error_vs_time`: classification error of
  a spiking network against presentation time.
"""

import numbers
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from nengo_softlif.evaluation.metrics import error_vs_time
from nengo_softlif.neurons.softlif import (
    PRESETS,
    hard_lif_rates,
    soft_lif_derivative,
    soft_lif_rates,
)
from nengo_softlif.neurons.spike_statistics import (
    filtered_spike_statistics,
    lif_derivative,
)

#: The hard LIF rate curve (`nengo.LIFRate`'s), under its older name here.
lif_rate = hard_lif_rates

__all__ = [
    "plot_rate_curves",
    "filtered_spike_statistics",
    "plot_spike_variability",
    "plot_layer_rates",
    "error_vs_time",
    "plot_error_vs_time",
    "plot_training_history",
    "lif_rate",
    "lif_derivative",
]

_DPI = 120


# --------------------------------------------------------------------------- helpers


def _new_figure(figsize):
    """A `Figure` on its own Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    """Write ``fig`` as a PNG to ``path`` (parents created); return the Path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI)
    return path


def _time_constants(lif_params):
    """``(tau_rc, tau_ref)`` of a `.LIFParams` (or any object with those fields)."""
    try:
        tau_rc, tau_ref = float(lif_params.tau_rc), float(lif_params.tau_ref)
    except AttributeError:
        raise TypeError(
            "lif_params must have tau_rc and tau_ref attributes (e.g. "
            f"nengo_softlif.PRESETS['cifar10']); got {lif_params!r}"
        ) from None
    if not tau_rc > 0 or not tau_ref >= 0:
        raise ValueError(f"Need tau_rc > 0 and tau_ref >= 0; got {tau_rc}, {tau_ref}")
    return tau_rc, tau_ref


# ------------------------------------------------------------------------ Fig. 1


def plot_rate_curves(
    path, lif_params=PRESETS["cifar10"], sigmas=(0.02,), j_range=(0, 3)
):
    """Paper Fig. 1: the LIF and soft LIF response curves and their derivatives.

    Rates are in Hz (amplitude 1; the preset's ``amplitude`` is ignored). The hard
    LIF curve is `nengo.LIFRate`'s. Its derivative is unbounded at the threshold
    ``J = 1``, so the derivative panel's y-axis is clipped (at 2.5 times the
    largest soft LIF derivative, or at the hard derivative's value at the right
    end of the range if that is larger); the figure says so.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    lif_params : `.LIFParams`
        Supplies ``tau_rc`` and ``tau_ref``.
    sigmas : sequence of float
        Smoothing values of the soft LIF curves (the paper's gamma).
    j_range : (float, float)
        Range of the input current ``J`` (threshold at 1).

    Returns
    -------
    Path
        ``path``.
    """
    import nengo

    tau_rc, tau_ref = _time_constants(lif_params)
    sigmas = [float(s) for s in np.atleast_1d(sigmas)]
    if not all(s > 0 for s in sigmas):
        raise ValueError(f"sigmas must be > 0; got {sigmas}")
    j_lo, j_hi = (float(v) for v in j_range)
    if not j_hi > j_lo:
        raise ValueError(f"j_range must be increasing; got {j_range}")

    J = np.linspace(j_lo, j_hi, 2001)
    hard = nengo.LIFRate(tau_rc=tau_rc, tau_ref=tau_ref).rates(J, 1.0, 0.0).ravel()
    with np.errstate(divide="ignore"):
        hard_d = lif_derivative(J, tau_rc, tau_ref)
    soft = {s: soft_lif_rates(J, s, tau_rc, tau_ref) for s in sigmas}
    soft_d = {s: soft_lif_derivative(J, s, tau_rc, tau_ref) for s in sigmas}

    finite_hard_d = hard_d[np.isfinite(hard_d)]
    d_top = 2.5 * max(float(np.max(d)) for d in soft_d.values())
    d_top = max(d_top, 1.2 * float(finite_hard_d[-1]) if finite_hard_d.size else 0.0)

    fig = _new_figure((6.4, 6.4))
    ax_r, ax_d = fig.subplots(2, 1, sharex=True)
    ax_r.plot(J, hard, color="k", lw=2, label="LIF")
    ax_d.plot(J, np.minimum(hard_d, 10 * d_top), color="k", lw=2, label="LIF")
    colors = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple"]
    for i, s in enumerate(sigmas):
        c = colors[i % len(colors)]
        label = f"soft LIF, $\\sigma$ = {s:g}"
        ax_r.plot(J, soft[s], color=c, lw=1.5, ls="--", label=label)
        ax_d.plot(J, soft_d[s], color=c, lw=1.5, ls="--", label=label)
    for ax in (ax_r, ax_d):
        ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    ax_r.set_ylabel("firing rate $r$ (Hz)")
    ax_r.set_title(
        f"LIF vs soft LIF response ($\\tau_{{RC}}$ = {tau_rc * 1e3:g} ms, "
        f"$\\tau_{{ref}}$ = {tau_ref * 1e3:g} ms)"
    )
    ax_r.set_ylim(bottom=0)
    ax_d.set_ylim(0, d_top)
    ax_d.set_ylabel("$dr/dJ$ (Hz per unit current)")
    ax_d.set_xlabel("input current $J$ (threshold $J$ = 1)")
    ax_d.set_title(
        "Derivatives (y-axis clipped: the LIF derivative is unbounded at $J$ = 1)",
        fontsize="medium",
    )
    ax_d.set_xlim(j_lo, j_hi)
    return _save(fig, path)


# ------------------------------------------------------------------------ Fig. 2


def plot_spike_variability(
    path,
    lif_params=PRESETS["cifar10"],
    currents=None,
    tau_s=0.005,
    t_total=4.0,
    seed=0,
):
    """Paper Fig. 2: variability of the filtered spike train against input current.

    Shows, for each input current, the mean, median, interquartile band and
    min/max band of the alpha-filtered spike train of a LIF neuron (from
    :func:`filtered_spike_statistics`), with the analytic LIF rate curve.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    lif_params : `.LIFParams`
        Supplies ``tau_rc`` and ``tau_ref``.
    currents : array_like, optional
        Input currents; by default 81 values in ``[0, 4]``.
    tau_s : float
        Alpha synapse time constant (s).
    t_total : float
        Simulated time per current (s; the first 0.5 s are skipped).
    seed : int
        Seed of the random spike phases.

    Returns
    -------
    Path
        ``path``.
    """
    tau_rc, tau_ref = _time_constants(lif_params)
    if currents is None:
        currents = np.linspace(0, 4, 81)
    currents = np.sort(np.asarray(currents, dtype=float).ravel())
    if currents.size < 2:
        raise ValueError("Need at least two currents to plot")
    stats = filtered_spike_statistics(
        currents, tau_rc, tau_ref, tau_s=tau_s, t_total=t_total, seed=seed
    )
    J_fine = np.linspace(currents[0], currents[-1], 1001)

    fig = _new_figure((6.4, 4.6))
    ax = fig.subplots()
    ax.fill_between(
        currents,
        stats["min"],
        stats["max"],
        color="tab:blue",
        alpha=0.15,
        lw=0,
        label="min - max",
    )
    ax.fill_between(
        currents,
        stats["q25"],
        stats["q75"],
        color="tab:blue",
        alpha=0.4,
        lw=0,
        label="25th - 75th percentile",
    )
    ax.plot(J_fine, lif_rate(J_fine, tau_rc, tau_ref), "k-", lw=2, label="LIF rate")
    ax.plot(currents, stats["mean"], "o", color="tab:red", ms=3, label="mean")
    ax.plot(currents, stats["median"], "x", color="tab:blue", ms=5, label="median")
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_xlim(currents[0], currents[-1])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("input current $J$ (threshold $J$ = 1)")
    ax.set_ylabel("filtered spike train (Hz)")
    ax.set_title(
        f"Alpha-filtered LIF spike train ($\\tau_s$ = {tau_s * 1e3:g} ms, "
        f"$\\tau_{{RC}}$ = {tau_rc * 1e3:g} ms, $\\tau_{{ref}}$ = {tau_ref * 1e3:g} ms)",
        fontsize="medium",
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)


# ------------------------------------------------------------------ layer rates


def _as_layer_rates(obj, label):
    """A dict layer -> Hz from an `.EvaluationResult`-like object or a mapping."""
    rates = getattr(obj, "layer_rates", obj)
    if not isinstance(rates, Mapping):
        raise TypeError(
            f"{label!r}: expected an EvaluationResult (with .layer_rates) or a dict "
            f"layer name -> rate (Hz); got {type(obj).__name__}"
        )
    out = {}
    for name, value in rates.items():
        if not isinstance(value, numbers.Real | np.number):
            raise TypeError(f"{label!r}: rate of layer {name!r} is not a number")
        out[str(name)] = float(value)
    return out


def plot_layer_rates(path, results):
    """Grouped bar chart of the mean firing rate of each layer (Hz).

    Parameters
    ----------
    path : str or Path
        Output PNG.
    results : dict or `.EvaluationResult`
        Either a dict label -> result, where each result is an
        `.EvaluationResult`-like object (with a ``layer_rates`` dict) or a dict
        layer name -> rate (Hz); or a single such result / dict layer -> Hz
        (drawn as one series). Layers missing from a result get no bar.

    Returns
    -------
    Path
        ``path``.
    """
    if hasattr(results, "layer_rates"):
        series = {"": _as_layer_rates(results, "result")}
    elif (
        isinstance(results, Mapping)
        and results
        and all(isinstance(v, numbers.Real | np.number) for v in results.values())
    ):
        series = {"": _as_layer_rates(results, "result")}
    elif isinstance(results, Mapping) and results:
        series = {str(k): _as_layer_rates(v, k) for k, v in results.items()}
    else:
        raise ValueError(
            "results must be a non-empty dict label -> EvaluationResult (or dict "
            "layer -> Hz), or a single EvaluationResult / dict layer -> Hz"
        )
    layers = list(dict.fromkeys(name for rates in series.values() for name in rates))
    if not layers:
        raise ValueError("No layer rates to plot")

    n_series = len(series)
    width = 0.8 / n_series
    x = np.arange(len(layers))
    fig = _new_figure((max(5.0, 1.0 + 0.9 * len(layers) * max(1, n_series / 2)), 4.2))
    ax = fig.subplots()
    top = 0.0
    for i, (label, rates) in enumerate(series.items()):
        values = np.array([rates.get(name, np.nan) for name in layers])
        bars = ax.bar(
            x + (i - (n_series - 1) / 2) * width,
            np.nan_to_num(values),
            width,
            label=label.replace("$", r"\$") or None,
        )
        for bar, v in zip(bars, values, strict=True):
            if np.isnan(v):
                bar.set_visible(False)
        ax.bar_label(
            bars,
            labels=["" if np.isnan(v) else f"{v:.3g}" for v in values],
            fontsize="small",
            padding=2,
        )
        top = max(top, float(np.nanmax(values)) if np.any(~np.isnan(values)) else 0.0)
    ax.set_xticks(  # layer names as written ("$" would start mathtext)
        x,
        [name.replace("$", r"\$") for name in layers],
        rotation=30 if len(layers) > 6 else 0,
    )
    ax.set_ylabel("mean firing rate (Hz)")
    ax.set_xlabel("layer")
    ax.set_title("Mean firing rate per layer")
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    ax.grid(axis="y", alpha=0.3)
    if n_series > 1 or next(iter(series)):
        ax.legend()
    return _save(fig, path)


# ------------------------------------------------------------- error vs time


def plot_error_vs_time(path, curves):
    """Classification error (%) against presentation time (ms).

    Parameters
    ----------
    path : str or Path
        Output PNG.
    curves : dict of str -> (times, errors)
        Times in seconds and errors as fractions, e.g. from :func:`error_vs_time`.

    Returns
    -------
    Path
        ``path``.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict label -> (times, errors)")
    fig = _new_figure((6.4, 4.2))
    ax = fig.subplots()
    for label, curve in curves.items():
        try:
            times, errors = curve
        except (TypeError, ValueError):
            raise ValueError(
                f"curves[{label!r}] must be a pair (times, errors)"
            ) from None
        times = np.asarray(times, dtype=float).ravel()
        errors = np.asarray(errors, dtype=float).ravel()
        if times.shape != errors.shape:
            raise ValueError(
                f"curves[{label!r}]: times and errors differ in length "
                f"({times.size} vs {errors.size})"
            )
        ax.plot(times * 1e3, errors * 100, lw=1.5, label=str(label))
    ax.set_xlabel("presentation time (ms)")
    ax.set_ylabel("classification error (%)")
    ax.set_title("Classification error vs presentation time")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


# ------------------------------------------------------------------ training


def plot_training_history(path, history):
    """Training loss and accuracy per epoch.

    Parameters
    ----------
    path : str or Path
        Output PNG.
    history : list of dict
        Per-epoch entries with ``epoch``, ``loss`` and (optionally) ``accuracy``,
        as `.train` returns and checkpoints store.

    Returns
    -------
    Path
        ``path``.
    """
    if not history:
        raise ValueError("history is empty: nothing was trained")
    epochs = [h["epoch"] for h in history]
    fig = _new_figure((6.4, 3.6))
    ax = fig.subplots()
    ax.plot(epochs, [h["loss"] for h in history], "o-", color="C0", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="C0")
    accuracy = [h.get("accuracy") for h in history]
    if all(a is not None for a in accuracy):
        twin = ax.twinx()
        twin.plot(epochs, [100 * a for a in accuracy], "s-", color="C1", ms=3)
        twin.set_ylabel("training accuracy (%, with noise)", color="C1")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Training (with training noise and augmentation)")
    return _save(fig, path)
