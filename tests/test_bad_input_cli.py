"""Values of command-line options that cannot work end at once, naming the option.

Each case runs ``main([...])``: exit status 2 and one line on stderr that names
the option and says what to do, before any data is read or any network built,
and never a traceback.
"""

import dataclasses
import importlib.util
import os

import pytest

from nengo_softlif.compat import check_loihi_target
from nengo_softlif.experiments.cli import main
from nengo_softlif.experiments.cli_checks import WORKERS_PER_CORE, available_cores
from nengo_softlif.params import SEED_LIMIT, check_seed

HAS_NXSDK = importlib.util.find_spec("nxsdk") is not None


def run(capsys, *argv):
    """``main(argv)``: (exit code, stderr); argparse errors included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.fixture
def paths(tmp_path):
    """A file, a folder, a missing path and a folder on a read-only file system."""
    (tmp_path / "file.txt").write_text("not a checkpoint")
    (tmp_path / "folder").mkdir()
    return {
        "file": tmp_path / "file.txt",
        "folder": tmp_path / "folder",
        "missing": tmp_path / "missing",
        "read-only": "/proc/nengo-softlif-out",
    }


def _never_called(*args, **kwargs):
    raise AssertionError("work started before the options were checked")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as loading data."""
    import nengo_softlif.data as data  # noqa: PLC0415

    monkeypatch.setattr(data, "load_dataset", _never_called)
    monkeypatch.setattr(data, "load_embedded_mnist", _never_called)


EVALUATE = ["evaluate", "--task", "mnist-sample"]
TRAIN = ["train", "--task", "mnist-sample", "--engine", "keras"]
DIAGNOSE = ["diagnose", "--task", "mnist-sample"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            [*TRAIN, "--out", "{folder}", "--seed", "1099511627776"],
            "argument --seed: must be <= 1073741823, got 1099511627776",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--workers", "1000000"],
            f"--workers 1000000 is more than {WORKERS_PER_CORE} per core",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--presentation-time", "1e12"],
            "argument --presentation-time: must be <= 60",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--dt", "0"],
            "argument --dt: must be > 0, got 0",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--dt", "1e-6"],
            "--dt 1e-06 makes a presentation of 0.2 s 200000 steps per image, more "
            "than 60000; use a larger --dt or a shorter --presentation-time",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--dt", "0.0007"],
            "--dt does not fit the task's spiking protocol: presentation_time (0.2 s) "
            "must be a whole number of time steps of dt = 0.0007 s",
        ),
        (
            [*DIAGNOSE, "--checkpoint", "{missing}", "--dt", "0.0007"],
            "--dt does not fit the task's spiking protocol: presentation_time (0.2 s) "
            "must be a whole number of time steps of dt = 0.0007 s",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--dt", "0.025"],
            "--dt does not fit the task's spiking protocol: t_start (0.12 s) must be "
            "a whole number of time steps of dt = 0.025 s",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--synapse-tau", "1e300"],
            "argument --synapse-tau: must be <= 1",
        ),
        (
            [*TRAIN, "--out", "{folder}", "--sigma", "1e300"],
            "argument --sigma: must be <= 1, got 1e+300",
        ),
        (
            [*TRAIN, "--out", "{folder}", "--anneal-sigma", "5"],
            "argument --anneal-sigma: must be <= 1, got 5",
        ),
        (
            ["train", "--task", "folder", "--data-dir", "{folder}", "--out", "{folder}"]
            + ["--image-size", "100000"],
            "argument --image-size: must be <= 512, got 100000",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}"],
            "--checkpoint {missing} does not exist; train first",
        ),
        (
            [*EVALUATE, "--checkpoint", "{folder}"],
            "--checkpoint {folder} is a folder; pass the checkpoint file in it",
        ),
        (
            [*EVALUATE, "--checkpoint", "{file}"],
            "--checkpoint {file} is not a checkpoint",
        ),
        (
            [*EVALUATE, "--checkpoint", "{missing}", "--out", "{file}"],
            "--out {file} is a file, not a folder",
        ),
        ([*TRAIN, "--out", "{file}"], "--out {file} is a file, not a folder"),
        (
            [*TRAIN, "--out", "{file}/run"],
            "--out {file}/run is inside {file}, which is a file",
        ),
        (
            [*TRAIN, "--out", "{read-only}"],
            "--out {read-only}: cannot write in /proc",
        ),
        (["demo", "--out", "{file}"], "--out {file} is a file, not a folder"),
        (["report", "{missing}"], "{missing} does not exist; give the folder of a"),
        (["report", "{file}"], "{file} is a file, not a folder; give the folder"),
        (
            ["report", "/proc/self"],
            "RUN_DIR /proc/self: no permission to write in /proc/self",
        ),
        (
            [
                "train",
                "--task",
                "mnist",
                "--data-dir",
                "{missing}",
                "--out",
                "{folder}",
            ],
            "--data-dir {missing} does not exist; check the path",
        ),
        (
            ["reproduce", "mnist", "--data-dir", "{missing}"],
            "--data-dir {missing} does not exist; check the path",
        ),
        (
            ["train", "--task", "folder", "--data-dir", "{folder}", "--out", "{folder}"]
            + ["--cache-dir", "{file}"],
            "--cache-dir {file} is a file, not a folder; choose another --cache-dir",
        ),
        (
            ["train", "--task", "folder", "--data-dir", "{folder}", "--out", "{folder}"]
            + ["--cache-dir", "{read-only}"],
            "--cache-dir {read-only}: cannot write in /proc",
        ),
        (
            ["reproduce", "mnist-sample", "--out", "{read-only}"],
            "--out {read-only}: cannot write in /proc",
        ),
        (
            [*EVALUATE, "--pretrained"],
            "No pretrained network 'mnist-sample'; shipped networks: ['cifar10'",
        ),
        (
            [*EVALUATE, "--pretrained", "cifar10"],
            "'cifar10' is for --task cifar10, not mnist-sample: pass --task cifar10",
        ),
        (
            [*DIAGNOSE, "--pretrained", "imagenet"],
            "No pretrained network 'imagenet'; shipped networks: ['cifar10', "
            "'cifar10-loihi']. For another network, train one",
        ),
        (
            ["reproduce", "mnist-sample", "--workers", "1000000"],
            f"--workers 1000000 is more than {WORKERS_PER_CORE} per core",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_option_is_refused_before_any_work(capsys, paths, no_work, argv, words):
    if "{read-only}" in words and not os.path.isdir("/proc"):
        pytest.skip("no /proc file system")
    code, err = run(capsys, *(a.format(**paths) for a in argv))
    assert code == 2
    assert words.format(**paths) in err
    assert "Traceback" not in err


def test_workers_up_to_the_limit_are_accepted():
    from nengo_softlif.experiments.cli import build_parser  # noqa: PLC0415
    from nengo_softlif.experiments.cli_checks import check_args  # noqa: PLC0415

    limit = WORKERS_PER_CORE * available_cores()
    args = build_parser().parse_args(
        ["evaluate", "--task", "cifar10", "--pretrained", "--workers", str(limit)]
    )
    check_args(args)  # no error


@pytest.mark.parametrize("command", ["evaluate", "diagnose"])
def test_pretrained_networks_are_found_by_name(command):
    from nengo_softlif.experiments.cli import (
        _network_source,
        build_parser,
    )  # noqa: PLC0415
    from nengo_softlif.experiments.cli_checks import check_args  # noqa: PLC0415
    from nengo_softlif.pretrained import PRETRAINED  # noqa: PLC0415

    for name in [None, *PRETRAINED]:
        argv = [command, "--task", "cifar10", "--pretrained"]
        args = build_parser().parse_args(argv + ([] if name is None else [name]))
        check_args(args)  # no error
        expected = PRETRAINED[name or "cifar10"]
        assert os.path.basename(_network_source(args)) == expected


@pytest.mark.skipif(HAS_NXSDK, reason="NxSDK is installed")
def test_loihi_hardware_without_nxsdk_is_refused_at_once(capsys, tmp_path, no_work):
    """Checked before the checkpoint (which does not exist) or any data is read."""
    code, err = run(
        capsys,
        *EVALUATE,
        "--checkpoint",
        tmp_path / "checkpoint.npz",
        "--backend",
        "loihi",
        "--loihi-target",
        "loihi",
    )
    assert code == 2
    assert (
        "--loihi-target loihi runs on Loihi hardware, which needs Intel's NxSDK" in err
    )
    assert "use --loihi-target sim (the emulator)" in err
    assert "Traceback" not in err


@pytest.mark.skipif(HAS_NXSDK, reason="NxSDK is installed")
def test_loihi_hardware_without_nxsdk_is_refused_by_the_python_api():
    from nengo_softlif.experiments.experiment import (  # noqa: PLC0415
        ExperimentConfig,
    )

    with pytest.raises(ImportError, match="target loihi runs on Loihi hardware"):
        ExperimentConfig(spiking_backend="loihi", backend_options={"target": "loihi"})
    ExperimentConfig(spiking_backend="loihi", backend_options={"target": "sim"})


@pytest.mark.skipif(HAS_NXSDK, reason="NxSDK is installed")
def test_loihi_backend_refuses_hardware_without_nxsdk_before_building():
    pytest.importorskip("nengo_softlif.backends.loihi")
    import numpy as np  # noqa: PLC0415

    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415
    from nengo_softlif.network.convert import to_spiking  # noqa: PLC0415

    net = to_spiking(_tiny_network())
    with pytest.raises(ImportError, match="needs Intel's NxSDK"):
        evaluate(net, np.zeros((1, 4)), [0], backend="loihi", target="loihi")


def _tiny_network():
    from nengo_softlif import PRESETS  # noqa: PLC0415
    from nengo_softlif.network.architectures import (  # noqa: PLC0415
        Architecture,
        build_network,
    )
    from nengo_softlif.network.layers import Dense, Output  # noqa: PLC0415

    preset = PRESETS["mnist"]
    arch = Architecture("tiny", (2, 2, 1), (Dense(4), Output(2)))
    return build_network(arch, preset.soft_lif(), preset)


def test_unknown_loihi_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="'chip' is not a nengo-loihi target; use one"):
        check_loihi_target("chip")


@pytest.mark.parametrize("seed", [-1, SEED_LIMIT, 2**40, 1.5, "1", True])
def test_seeds_out_of_range_name_the_seed(seed):
    with pytest.raises(ValueError, match="seed must be"):
        check_seed(seed)


def test_keras_model_refuses_a_seed_out_of_range():
    pytest.importorskip("tensorflow")
    from nengo_softlif.keras import keras_model  # noqa: PLC0415

    net = _tiny_network()
    with pytest.raises(ValueError, match=f"seed must be >= 0 and < {SEED_LIMIT}"):
        keras_model(net, seed=2**31)


def test_weights_that_become_nan_say_training_diverged(rng):
    """A finite mean loss with NaN weights: not a 'checkpoint' error."""
    pytest.importorskip("tensorflow")
    from nengo_softlif.training.loop import (
        ArrayData,
        TrainConfig,
        train,
    )  # noqa: PLC0415

    images = rng.uniform(0, 1, (20, 4)).astype("float32")
    # one step: its loss is finite, the weights after it are not
    config = TrainConfig(epochs=1, minibatch_size=20, engine="keras")
    config = dataclasses.replace(config, learning_rate=1e300)
    with pytest.raises(FloatingPointError) as info:
        train(_tiny_network(), ArrayData(images, rng.integers(0, 2, 20)), config)
    assert "Training diverged at epoch 1" in str(info.value)
    assert "lower the learning rate" in str(info.value)
