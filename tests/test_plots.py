"""Tests of nengo_softlif.experiments.plots: figures are valid PNGs, the statistics are right."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nengo_softlif
from nengo_softlif.evaluation.runner import EvaluationResult
from nengo_softlif.experiments import plots
from nengo_softlif.neurons import spike_statistics
from nengo_softlif.neurons.softlif import PRESETS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path, written):
    """``written`` is ``path``, a non-empty PNG of more than 1 KB that PIL opens."""
    from PIL import Image

    assert written == path
    assert path.is_file()
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1024
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 200 and height > 200


def test_import_is_lazy_and_leaves_matplotlib_alone():
    code = (
        "import sys, nengo_softlif.experiments.plots;"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly';"
        "import tempfile, pathlib;"
        "d = pathlib.Path(tempfile.mkdtemp());"
        "nengo_softlif.experiments.plots.plot_layer_rates(d / 'a.png', {'l0': 1.0});"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
    )
    root = str(Path(nengo_softlif.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root, MPLBACKEND="")
    env.pop("MPLBACKEND")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root)


# ----------------------------------------------------------------- figures


def test_plot_rate_curves(tmp_path):
    path = tmp_path / "sub" / "dir" / "fig1.png"  # parents are created
    check_png(path, plots.plot_rate_curves(path))


def test_plot_rate_curves_str_path_and_options(tmp_path):
    path = tmp_path / "fig1.png"
    written = plots.plot_rate_curves(
        str(path), PRESETS["mnist"], sigmas=(0.01, 0.05, 0.2), j_range=(-1, 5)
    )
    check_png(path, written)


def test_plot_rate_curves_bad_input(tmp_path):
    with pytest.raises(ValueError, match="sigmas"):
        plots.plot_rate_curves(tmp_path / "a.png", sigmas=(0.0,))
    with pytest.raises(ValueError, match="j_range"):
        plots.plot_rate_curves(tmp_path / "a.png", j_range=(3, 0))
    with pytest.raises(TypeError, match="tau_rc"):
        plots.plot_rate_curves(tmp_path / "a.png", lif_params=0.02)


def test_plot_spike_variability(tmp_path):
    path = tmp_path / "fig2.png"
    written = plots.plot_spike_variability(
        path, currents=np.linspace(0, 3, 31), t_total=1.5
    )
    check_png(path, written)


def test_plot_layer_rates_evaluation_results(tmp_path):
    def result(rates):
        return EvaluationResult(
            error=0.1,
            n_images=10,
            predictions=np.zeros(10, dtype=int),
            outputs=np.zeros((10, 10)),
            layer_rates=rates,
        )

    results = {
        "rate": result({"conv0": 40.0, "conv1": 12.0, "dense": 8.0}),
        "spiking": result({"conv0": 38.0, "conv1": 14.0, "out": 2.0}),
    }
    path = tmp_path / "rates.png"
    check_png(path, plots.plot_layer_rates(path, results))
    # a single result, and a mix of results and dicts
    path = tmp_path / "rates_single.png"
    check_png(path, plots.plot_layer_rates(path, results["rate"]))
    mixed = {"a": results["rate"], "b": {"conv0": 1.0, "dense": np.float32(2.0)}}
    path = tmp_path / "rates_mixed.png"
    check_png(path, plots.plot_layer_rates(path, mixed))


def test_plot_layer_rates_plain_dicts(tmp_path):
    path = tmp_path / "rates_plain.png"
    rates = {"conv0": 40.0, "conv1": np.float64(12.0), "dense": 8}
    check_png(path, plots.plot_layer_rates(path, rates))
    path = tmp_path / "rates_labelled.png"
    check_png(path, plots.plot_layer_rates(path, {"net A": rates, "net B": rates}))


def test_plot_layer_rates_bad_input(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_layer_rates(tmp_path / "a.png", {})
    with pytest.raises(TypeError, match="layer_rates"):
        plots.plot_layer_rates(tmp_path / "a.png", {"net": [1.0, 2.0]})
    with pytest.raises(TypeError, match="not a number"):
        plots.plot_layer_rates(tmp_path / "a.png", {"net": {"conv0": "fast"}})


def test_plot_error_vs_time(tmp_path):
    times = np.arange(1, 201) * 0.001
    curves = {
        "tau_s = 5 ms": (times, np.exp(-times / 0.02) * 0.9 + 0.01),
        "tau_s = 2 ms": (times, np.exp(-times / 0.01) * 0.9 + 0.02),
    }
    path = tmp_path / "err.png"
    check_png(path, plots.plot_error_vs_time(path, curves))
    with pytest.raises(ValueError, match="differ in length"):
        plots.plot_error_vs_time(path, {"x": (times, times[:-1])})
    with pytest.raises(ValueError, match="non-empty"):
        plots.plot_error_vs_time(path, {})


# ------------------------------------------------------ filtered spike train


@pytest.mark.parametrize("preset", ["cifar10", "mnist"])
def test_filtered_mean_is_lif_rate(preset):
    p = PRESETS[preset]
    currents = np.array([2.0, 3.0, 5.0, 10.0])
    stats = plots.filtered_spike_statistics(currents, p.tau_rc, p.tau_ref)
    expected = 1.0 / (p.tau_ref + p.tau_rc * np.log1p(1.0 / (currents - 1)))
    assert np.allclose(stats["rate"], expected, rtol=1e-12)
    assert np.allclose(stats["mean"], stats["rate"], rtol=0.01)


def test_filtered_mean_near_threshold_with_long_train():
    # near the threshold the rate is low; a longer train averages it correctly
    currents = np.array([1.05, 1.2])
    stats = plots.filtered_spike_statistics(currents, 0.02, 0.002, t_total=20.5)
    assert np.all(stats["rate"] > 0)
    assert np.allclose(stats["mean"], stats["rate"], rtol=0.01)


def test_filtered_statistics_order_and_threshold():
    currents = np.linspace(-1, 6, 29)
    stats = plots.filtered_spike_statistics(currents, 0.02, 0.004, tau_s=0.003)
    assert set(stats) == {"mean", "median", "q25", "q75", "min", "max", "rate"}
    for value in stats.values():
        assert value.shape == currents.shape
        assert np.all(np.isfinite(value))
    assert np.all(stats["min"] <= stats["q25"])
    assert np.all(stats["q25"] <= stats["median"])
    assert np.all(stats["median"] <= stats["q75"])
    assert np.all(stats["q75"] <= stats["max"])
    assert np.all(stats["min"] <= stats["mean"])
    assert np.all(stats["mean"] <= stats["max"])
    below = currents <= 1
    for value in stats.values():
        assert np.all(value[below] == 0)
    # above the threshold the filtered train varies
    assert np.all(stats["max"][~below] - stats["min"][~below] > 0)
    assert np.all(stats["rate"][~below] > 0)
    # one alpha bump of area 1 peaks at 1 / (e * tau_s): the least possible max
    assert np.all(stats["max"][~below] >= 1 / (np.e * 0.003) * (1 - 1e-3))


def test_filtered_train_matches_direct_sum():
    # the closed form against summing the alpha kernels of all past spikes
    tau_s, period, phase = 0.003, 0.0123, 0.004
    t = np.arange(0, 0.3, 1e-5)
    spike_times = phase + np.arange(0, 0.3 / period) * period
    lag = t[None, :] - spike_times[:, None]
    kernels = np.where(lag >= 0, lag / tau_s**2 * np.exp(-lag / tau_s), 0.0)
    direct = kernels.sum(axis=0)
    exact = spike_statistics._alpha_filtered_train(t, phase, period, tau_s)
    assert np.allclose(exact, direct, rtol=1e-9, atol=1e-9)
    assert np.all(exact[t < phase] == 0)


def test_filtered_statistics_reproducible_and_bad_input():
    a = plots.filtered_spike_statistics([2.0, 3.0], 0.02, 0.002, seed=1)
    b = plots.filtered_spike_statistics([2.0, 3.0], 0.02, 0.002, seed=1)
    for key in a:
        assert np.array_equal(a[key], b[key])
    with pytest.raises(ValueError, match="dt"):
        plots.filtered_spike_statistics([2.0], 0.02, 0.002, tau_s=0.005, dt=0.01)
    with pytest.raises(ValueError, match="t_skip"):
        plots.filtered_spike_statistics([2.0], 0.02, 0.002, t_total=0.5, t_skip=0.5)
    with pytest.raises(ValueError, match="finite"):
        plots.filtered_spike_statistics([np.nan], 0.02, 0.002)


# ------------------------------------------------------------- error vs time


def synthetic_traces(rng, n_images=40, n_steps=200, n_classes=10, switch=50):
    """Outputs favour a wrong class until ``switch``, then the true class."""
    labels = rng.integers(0, n_classes, n_images)
    wrong = (labels + 1 + rng.integers(0, n_classes - 1, n_images)) % n_classes
    traces = 0.1 * rng.random((n_images, n_steps, n_classes))
    rows = np.arange(n_images)
    traces[rows, :switch, wrong] += 1.0
    traces[rows, switch:, labels] += 1.0
    return traces, labels


def test_error_vs_time_synthetic(rng):
    traces, labels = synthetic_traces(rng)
    times, errors = plots.error_vs_time(traces, labels, dt=0.001)
    assert times.shape == errors.shape == (200,)
    assert np.allclose(times, np.arange(1, 201) * 0.001)
    assert np.all((errors >= 0) & (errors <= 1))
    assert np.all(errors[:50] == 1)  # only the wrong class so far
    # the window is the last 40% of [0, t]: wholly after step 50 once 0.6 t > 50
    assert np.all(errors[90:] == 0)
    # with the full window the wrong class wins until about step 100
    _, errors_full = plots.error_vs_time(traces, labels, 0.001, window_fraction=1.0)
    assert np.all(errors_full[:90] == 1)
    assert np.all(errors_full[115:] == 0)


def test_error_vs_time_matches_loop(rng):
    traces = rng.random((7, 30, 4))
    labels = rng.integers(0, 4, 7)
    _, errors = plots.error_vs_time(traces, labels, dt=0.002, window_fraction=0.3)
    for k in range(1, 31):
        width = max(1, int(round(0.3 * k)))
        pred = traces[:, k - width : k].mean(axis=1).argmax(axis=1)
        assert errors[k - 1] == pytest.approx(np.mean(pred != labels))


def test_error_vs_time_ties():
    traces = np.zeros((2, 5, 3))  # silent network: every class ties
    traces[:, 3:, 0] = 1.0
    labels = np.array([0, 0])
    _, errors = plots.error_vs_time(traces, labels, dt=0.001, window_fraction=1.0)
    assert np.array_equal(errors, [1, 1, 1, 0, 0])
    _, errors = plots.error_vs_time(
        traces, labels, 0.001, window_fraction=1.0, count_ties_as_errors=False
    )
    assert np.array_equal(errors, [0, 0, 0, 0, 0])


def test_error_vs_time_bad_input(rng):
    traces = rng.random((5, 20, 3))
    with pytest.raises(ValueError, match=r"labels must have shape \(n_images,\)"):
        plots.error_vs_time(traces, np.zeros(4, dtype=int), dt=0.001)
    with pytest.raises(ValueError, match="n_images, n_steps, n_classes"):
        plots.error_vs_time(traces[0], np.zeros(5, dtype=int), dt=0.001)
    with pytest.raises(ValueError, match="n_images, n_steps, n_classes"):
        plots.error_vs_time(traces[..., None], np.zeros(5, dtype=int), dt=0.001)
    with pytest.raises(ValueError, match="class indices"):
        plots.error_vs_time(traces, np.full(5, 3), dt=0.001)
    with pytest.raises(ValueError, match="dt"):
        plots.error_vs_time(traces, np.zeros(5, dtype=int), dt=0)
    with pytest.raises(ValueError, match="window_fraction"):
        plots.error_vs_time(traces, np.zeros(5, dtype=int), 0.001, window_fraction=0)
