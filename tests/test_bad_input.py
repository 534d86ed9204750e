"""Bad input ends in a clear error (or a correct result), never a silent wrong one."""

import gzip
import json
import os
import shutil

import numpy as np
import pytest
from nengo.exceptions import ValidationError

from nengo_softlif import GaussianNoise, SoftLIFRate
from nengo_softlif.atomic import FileLock, atomic_write_bytes
from nengo_softlif.data.dataset import DataError
from nengo_softlif.data.mnist import load_mnist
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.experiments.cli import main
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import CheckpointError, load_checkpoint
from nengo_softlif.network.convert import to_hard_rate, to_spiking
from nengo_softlif.neurons.noise import parse_noise

from cli_helpers import run

pytest.importorskip("tensorflow")

SAMPLE = ["--task", "mnist-sample", "--train-images", "100"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch mnist-sample checkpoint (Keras engine: a few seconds)."""
    out = tmp_path_factory.mktemp("run") / "run"
    assert main([str(a) for a in _train_args(out, "--json")]) == 0
    return out


def _train_args(out, *extra):
    return [
        "train",
        *SAMPLE,
        "--out",
        out,
        "--epochs",
        "1",
        "--engine",
        "keras",
        *extra,
    ]


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["--t-start", "0.1995"],
            "t_start (0.1995 s) must be a whole number of time steps of dt = 0.001 s",
        ),
        (
            ["--presentation-time", "0.1505", "--t-start", "0.15"],
            "whole number of time steps",
        ),
        (["--n-test", "-5"], "argument --n-test: must be >= 1, got -5"),
        (["--n-test", "100000"], "n_test=100000 is more than the 1000 test images"),
        (["--workers", "0"], "argument --workers: must be >= 1, got 0"),
        (["--workers", "-3"], "argument --workers: must be >= 1, got -3"),
        (["--eval-minibatch", "0"], "argument --eval-minibatch: must be >= 1"),
        (["--eval-minibatch", "-1"], "argument --eval-minibatch: must be >= 1"),
        (
            ["--backend", "loihi", "--workers", "2"],
            "--workers applies to --backend fast",
        ),
        (["--data-dir", "/tmp"], "--data-dir is not used with --task mnist-sample"),
        (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["--t-start", "nan"], "argument --t-start: must be a finite number"),
        (
            ["--presentation-time", "inf"],
            "argument --presentation-time: must be a finite",
        ),
    ],
)
def test_evaluate_options_are_checked(capsys, trained, argv, words):
    checkpoint = trained / "checkpoint.npz"
    code, out, err = run(
        capsys, "evaluate", "--task", "mnist-sample", "--checkpoint", checkpoint, *argv
    )
    assert code == 2 and out == ""
    assert words in err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--train-images", "0"], "argument --train-images: must be >= 1, got 0"),
        (["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        (["--lr", "inf"], "argument --lr: must be a finite number, got inf"),
        (["--sigma", "inf"], "argument --sigma: must be a finite number"),
        (["--sigma", "nan"], "argument --sigma: must be a finite number"),
        (["--sigma", "0"], "argument --sigma: must be > 0"),
        (["--noise", "gaussian:inf"], "std must be a finite number, got inf"),
        (["--noise", "gaussian:nan"], "std must be a finite number, got nan"),
        (["--noise", ""], "--noise is empty: write --noise none"),
        (["--noise", "gaussian:10:5"], "'gaussian' takes at most 1 (std)"),
        (["--noise", "gauss:10"], "Unknown noise model 'gauss'"),
        (["--minibatch-size", "0"], "argument --minibatch-size: must be >= 1"),
        (["--label-smoothing", "1"], "argument --label-smoothing: must be < 1"),
        (["--epochs-this-run", "0"], "argument --epochs-this-run: must be >= 1"),
    ],
)
def test_train_options_are_checked(capsys, tmp_path, argv, words):
    out = tmp_path / "run"
    code, stdout, err = run(capsys, *_train_args(out, *argv))
    assert code == 2 and stdout == ""
    assert words in err
    assert not out.exists()  # nothing was written


def test_demo_epochs_must_be_positive(capsys):
    code, _, err = run(capsys, "demo", "--epochs", "0")
    assert code == 2 and "argument --epochs: must be >= 1, got 0" in err


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_that_cannot_be_a_folder_is_refused_before_training(
    capsys, tmp_path, where
):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if where == "file" else blocker / "run"
    code, _, err = run(capsys, *_train_args(out))
    assert code == 2
    assert ("is a file, not a folder" if where == "file" else "which is a file") in err
    assert blocker.read_text() == "not a folder"


def test_resume_with_other_settings_is_refused_and_keeps_the_checkpoint(
    capsys, tmp_path
):
    out = tmp_path / "run"
    assert run(capsys, *_train_args(out))[0] == 0
    before = (out / "checkpoint.npz").read_bytes()
    args = ["train", *SAMPLE, "--out", out, "--epochs", "2", "--engine", "keras"]
    for extra, words in [
        (["--lr", "0.01"], "learning_rate: 0.001 in the checkpoint, 0.01 now"),
        (["--sigma", "0.05"], "sigma: 0.02 in the checkpoint, 0.05 now"),
        (["--noise", "gaussian:20"], "noise: 'gaussian:10' in the checkpoint"),
        (["--optimizer", "sgd"], "optimizer: 'adam' in the checkpoint, 'sgd' now"),
        (["--minibatch-size", "50"], "minibatch_size: 100 in the checkpoint, 50 now"),
    ]:
        code, _, err = run(capsys, *args, *extra)
        assert code == 2 and "other settings" in err and words in err, extra
    assert (out / "checkpoint.npz").read_bytes() == before


def test_training_nothing_says_so(capsys, tmp_path):
    out = tmp_path / "run"
    assert run(capsys, *_train_args(out))[0] == 0
    code, stdout, _ = run(capsys, *_train_args(out))
    assert code == 0
    assert (
        "nothing trained: the checkpoint is already at epoch 1 of --epochs 1" in stdout
    )


def test_two_runs_into_one_checkpoint_cannot_both_write(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    lock = out / "checkpoint.npz.lock"
    lock.write_text("1")  # pid 1 is always running
    code, _, err = run(capsys, *_train_args(out))
    assert code == 2 and "Another process (pid 1) is training into" in err
    assert not (out / "checkpoint.npz").exists()
    lock.write_text("999999999")  # a run that died: its lock is taken over
    assert run(capsys, *_train_args(out))[0] == 0
    assert not lock.exists()


def test_ctrl_c_stops_cleanly_and_names_the_epoch(capsys, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert run(capsys, *_train_args(out))[0] == 0
    import nengo_softlif.training.loop as train_module  # noqa: PLC0415

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_train", interrupted)
    args = ["train", *SAMPLE, "--out", out, "--epochs", "2", "--engine", "keras"]
    code, _, err = run(capsys, *args)
    assert code == 130
    assert "interrupted" in err and "holds epoch 1: run the same command" in err
    assert "Traceback" not in err


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path):
    path = tmp_path / "checkpoint.npz"
    dead = tmp_path / ".checkpoint.npz.999999999.abc.tmp"
    mine = tmp_path / f".checkpoint.npz.{os.getpid()}.abc.tmp"
    other_file = tmp_path / ".results.json.999999999.abc.tmp"
    for p in (dead, mine, other_file):
        p.write_bytes(b"x")
    atomic_write_bytes(path, b"data")
    assert path.read_bytes() == b"data"
    assert not dead.exists()
    assert mine.exists() and other_file.exists()  # a live writer's, another file's


def test_an_interrupt_as_the_temporary_is_created_leaves_nothing(tmp_path, monkeypatch):
    """A signal's exception right after the temporary file exists removes it."""
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"old")
    real_open = os.open

    def open_then_interrupt(name, *args, **kwargs):
        fd = real_open(name, *args, **kwargs)
        if os.path.basename(name).startswith(".checkpoint.npz."):
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]
    assert path.read_bytes() == b"old"


def test_file_lock_is_exclusive(tmp_path):
    path = tmp_path / "x"
    with FileLock(path), pytest.raises(RuntimeError, match="Another process"):
        (tmp_path / "x.lock").write_text("1")
        with FileLock(path):
            pass


def test_checkpoint_of_a_newer_format_is_refused(trained, tmp_path):
    source = trained / "checkpoint.npz"
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["format"] = 99
    arrays["__meta__"] = np.array(json.dumps(meta))
    path = tmp_path / "future.npz"
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="format 99, written by a newer"):
        load_checkpoint(path)


def test_checkpoint_of_another_task_says_so(capsys, trained, tmp_path):
    from nengo_softlif.data.dataset import Dataset  # noqa: PLC0415
    from nengo_softlif.experiments.experiment import (
        ExperimentConfig,
        evaluate_checkpoint,
    )
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    rng = np.random.default_rng(0)
    cifar_like = Dataset(
        rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 20),
        rng.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, 10),
        tuple(str(i) for i in range(10)),
        "cifar10",
    )
    with pytest.raises(CheckpointError, match="is for 'mnist'.*not the 'cifar10' task"):
        evaluate_checkpoint(
            get_task("cifar10"),
            cifar_like,
            trained / "checkpoint.npz",
            ExperimentConfig(),
        )


def test_bad_value_inside_a_checkpoint_names_the_checkpoint(trained, tmp_path):
    from nengo_softlif.network.checkpoint import load_network  # noqa: PLC0415

    with np.load(trained / "checkpoint.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta["neuron_type"]["sigma"] = -1
    arrays["__meta__"] = np.array(json.dumps(meta))
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="edited.npz holds a bad neuron setting"):
        load_network(path)


def test_stale_raw_mnist_file_next_to_the_gz_is_refused(tmp_path):
    from nengo_softlif.data.mnist import _MNIST_FILES  # noqa: PLC0415

    def idx(array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            int(d).to_bytes(4, "big") for d in array.shape
        )
        return header + array.astype(np.uint8).tobytes()

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (5, 28, 28))
    labels = rng.integers(0, 10, 5)
    for key, stem in _MNIST_FILES.items():
        data = idx(images if key.endswith("images") else labels)
        with gzip.open(tmp_path / f"{stem}.gz", "wb") as f:
            f.write(data)
    assert load_mnist(tmp_path).test_labels.tolist() == labels.tolist()
    stem = _MNIST_FILES["test_labels"]
    shutil.copy(tmp_path / f"{stem}.gz", tmp_path / "copy.gz")
    with gzip.open(tmp_path / "copy.gz") as f:  # an identical raw copy is fine
        (tmp_path / stem).write_bytes(f.read())
    assert load_mnist(tmp_path).test_labels.tolist() == labels.tolist()
    (tmp_path / stem).write_bytes(idx((labels + 1) % 10))  # a stale one is not
    with pytest.raises(DataError, match="hold different data; one of them is stale"):
        load_mnist(tmp_path)


@pytest.fixture(scope="module")
def small_net():
    from architectures import TINY  # noqa: PLC0415

    return build_network(TINY, lif_params="mnist")


def _images(net, n=4):
    return np.random.default_rng(0).uniform(0, 1, (n, net.inp.size_out))


@pytest.mark.parametrize(
    "labels, words",
    [
        ([0, 1, 15, 2], r"classes 0-2 .* got \[15\]"),
        ([0, -1, 1, 2], r"classes 0-2 .* got \[-1\]"),
        ([0.5, 1, 2, 0], "whole class numbers"),
    ],
)
def test_evaluate_refuses_labels_outside_the_classes(small_net, labels, words):
    with pytest.raises(ValueError, match=words):
        evaluate(small_net, _images(small_net), np.array(labels), backend="nengo")


def test_evaluate_accepts_whole_float_labels(small_net):
    result = evaluate(
        small_net, _images(small_net), np.array([0.0, 1.0, 2.0, 0.0]), backend="nengo"
    )
    assert result.n_images == 4


def test_evaluate_refuses_raw_uint8_images(small_net):
    images = (255 * _images(small_net)).astype(np.uint8)
    with pytest.raises(ValueError, match="raw 8-bit pixels"):
        evaluate(small_net, images, [0, 1, 2, 0], backend="nengo")


def test_evaluate_refuses_a_static_protocol_for_spikes(small_net):
    with pytest.raises(ValueError, match="needs a presentation of many time steps"):
        evaluate(
            to_spiking(small_net),
            _images(small_net),
            [0, 1, 2, 0],
            Protocol.static(),
            backend="nengo",
        )


def test_evaluate_refuses_a_dict_protocol(small_net):
    with pytest.raises(TypeError, match="protocol must be a Protocol"):
        evaluate(small_net, _images(small_net), [0, 1, 2, 0], {"t_start": 0.1})


def test_conversions_refuse_what_they_cannot_convert(small_net):
    with pytest.raises(TypeError, match="to_hard_rate needs a rate network"):
        to_hard_rate(to_spiking(small_net))
    with pytest.raises(TypeError, match="to_spiking needs a nengo.Network"):
        to_spiking(None)
    with pytest.raises(TypeError, match="to_hard_rate needs a nengo.Network"):
        to_hard_rate("network")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -float("inf")])
@pytest.mark.parametrize(
    "make",
    [
        lambda v: SoftLIFRate(sigma=v),
        lambda v: SoftLIFRate(tau_rc=v),
        lambda v: SoftLIFRate(tau_ref=v),
        lambda v: SoftLIFRate(amplitude=v),
        lambda v: GaussianNoise(std=v),
    ],
)
def test_non_finite_neuron_and_noise_parameters_are_refused(make, value):
    with pytest.raises(ValidationError, match="must be a finite number"):
        make(value)


def test_protocol_values_are_checked():
    with pytest.raises(ValueError, match="t_start must be finite"):
        Protocol(t_start=float("nan"))
    with pytest.raises(TypeError, match="must be a number of seconds"):
        Protocol(t_start="0.1")
    assert Protocol(t_start=0.199).window == slice(199, 200)


def test_parse_noise_messages():
    with pytest.raises(ValueError, match="write 'gaussian:STD'"):
        parse_noise("gaussian:10:5")
    assert parse_noise("none") is None
