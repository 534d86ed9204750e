"""What the command line shows: no TensorFlow start-up noise, one line per epoch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from nengo_softlif.console import STARTUP_NOISE, Progress, filtered_stderr

pytest.importorskip("tensorflow")


def test_filtered_stderr_drops_only_the_startup_noise(capfd):
    with filtered_stderr():
        os.write(2, b"E0000 cuda_dnn.cc] Unable to register cuDNN factory: ...\n")
        os.write(2, b"W py_utils.cc:38] TF-TRT Warning: Could not find TensorRT\n")
        os.write(2, b"a message that matters\n")
    err = capfd.readouterr().err
    assert err == "a message that matters\n"


def test_progress_is_silent_when_not_a_terminal(tmp_path):
    with open(tmp_path / "log", "w", encoding="utf-8") as f:
        progress = Progress(100, "epoch 1/2", stream=f)
        for i in range(100):
            progress.update(i + 1, loss=0.5)
        progress.close()
    assert (tmp_path / "log").read_text() == ""


def _train(tmp_path, *extra):
    out = tmp_path / "run"
    args = ["train", "--task", "mnist-sample", "--train-images", "200"]
    args += ["--epochs", "2", "--engine", "keras", "--out", str(out), *extra]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "nengo_softlif.experiments.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


def test_train_console_is_quiet_and_one_line_per_epoch(tmp_path):
    result = _train(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not any(STARTUP_NOISE.search(line) for line in result.stderr.splitlines())
    assert "No GPU support detected" not in result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines[:2]] == ["1/2", "2/2"]
    assert lines[2].startswith("checkpoint: ") and lines[3].startswith("report: ")
    assert len(lines) == 4
    assert "\r" not in result.stdout  # no progress bar in a log file


def test_quiet_and_verbose(tmp_path):
    quiet = _train(tmp_path, "--quiet")
    assert quiet.returncode == 0
    assert quiet.stdout.splitlines()[-2].startswith("checkpoint: ")
    assert quiet.stdout.splitlines()[-1].startswith("report: ")
    verbose = _train(tmp_path / "v", "--verbose")
    assert verbose.returncode == 0
    # everything shown: TensorFlow's own start-up lines reach the terminal
    assert any(STARTUP_NOISE.search(line) for line in verbose.stderr.splitlines())


def test_spiking_progress_counts_images_and_the_running_error(monkeypatch):
    """Progress in images, whatever the backend's stream chunks, with the error."""
    import nengo  # noqa: PLC0415

    from nengo_softlif import PRESETS, Protocol, build_network, evaluate, to_spiking
    from nengo_softlif.evaluation import runner  # noqa: PLC0415
    from nengo_softlif.evaluation.backend import ImageProgress  # noqa: PLC0415
    from nengo_softlif.network import Architecture, Dense, Output  # noqa: PLC0415

    bars = []

    class Recording(ImageProgress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(runner, "ImageProgress", Recording)
    arch = Architecture("t", (4, 4, 1), (Dense(8), Output(2)))
    preset = PRESETS["mnist"]
    net = to_spiking(
        build_network(arch, preset.soft_lif(), preset), synapse=nengo.Alpha(0.005)
    )
    images = np.random.default_rng(0).uniform(size=(7, 4, 4, 1))
    labels = [0, 1, 0, 1, 1, 0, 0]
    protocol = Protocol(presentation_time=0.02, t_start=0.01, t_end=0.02)
    for backend, options in (("fast", {"minibatch_size": 3}), ("nengo", {})):
        bars.clear()
        result = evaluate(
            net, images, labels, protocol, backend=backend, progress=True, **options
        )
        (bar,) = bars
        assert bar.done == bar.scored == 7, backend
        assert bar.done * bar.seconds_per_image == pytest.approx(0.14)
        assert bar.wrong / bar.scored == pytest.approx(result.error), backend


def test_progress_bars_are_text_outside_a_notebook(monkeypatch, recwarn):
    """A process that imported ipykernel's shell (Jupyter installed) is no notebook."""
    import types  # noqa: PLC0415

    import tqdm  # noqa: PLC0415

    from nengo_softlif.evaluation.backend import (
        ImageProgress,
        progress,
    )  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("zmqshell"))
    monkeypatch.delitem(sys.modules, "tqdm.auto", raising=False)
    monkeypatch.delitem(sys.modules, "tqdm.autonotebook", raising=False)
    bar = ImageProgress(3, True, "fast", 0.2).bar
    assert type(bar) is tqdm.std.tqdm
    bar.close()
    assert type(progress([1, 2], True, "x")) is tqdm.std.tqdm
    assert not [w for w in recwarn if "IProgress" in str(w.message)]

    class ZMQInteractiveShell:  # the shell of a Jupyter kernel
        pass

    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = ZMQInteractiveShell
    fake_auto = types.ModuleType("tqdm.auto")
    fake_auto.tqdm = lambda iterable, **kwargs: ("notebook bar", iterable)
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake_auto)
    assert progress([1], True, "x") == ("notebook bar", [1])
