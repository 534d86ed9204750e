"""Bad data, checkpoints and Python-API arguments: a clear error or a right result.

Each case ends in an error whose message names the file, option or argument and
the fix, or in a correct result; never in a silent wrong result or a traceback.
"""

import gzip
import json
import os
import shutil

import numpy as np
import pytest

from nengo_softlif.data import load_image_folder, load_mnist
from nengo_softlif.data.dataset import DataError, Dataset
from nengo_softlif.evaluation.runner import evaluate
from nengo_softlif.experiments.cli import main
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.checkpoint import (
    CheckpointError,
    load_network,
    load_preprocessing,
)
from nengo_softlif.training.loop import ArrayData, TrainConfig, train

from cli_helpers import run

pytest.importorskip("tensorflow")
Image = pytest.importorskip("PIL.Image")


def write_tree(root, classes=("dark", "light"), n_train=4, n_test=2, seed=0, size=24):
    """A small image-folder tree of flat-coloured PNGs, one level per class."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for label, cls in enumerate(classes):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                level = 40 + 150 * label / max(len(classes) - 1, 1)
                noise = rng.integers(-20, 20, (size, size, 3))
                pixels = np.clip(level + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A one-epoch ``--task folder`` checkpoint on a two-class tree."""
    base = tmp_path_factory.mktemp("folder")
    tree = write_tree(base / "tree")
    out = base / "run"
    argv = ["train", "--task", "folder", "--data-dir", tree, "--out", out]
    argv += ["--epochs", 1, "--engine", "keras", "--minibatch-size", 4, "--quiet"]
    assert main([str(a) for a in argv]) == 0
    return tree, out / "checkpoint.npz"


def edited_copy(source, path, edit_meta=None, edit_arrays=None):
    """A copy of a checkpoint with its header or arrays changed."""
    with np.load(source) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


# --- image-folder checkpoints record their classes and mean image ----------------


def test_folder_checkpoint_stores_its_classes_and_mean_image(folder_run):
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    tree, checkpoint = folder_run
    _, meta = load_network(checkpoint)
    assert meta["classes"] == ["dark", "light"]
    mean = load_preprocessing(checkpoint)["mean_image"]
    expected = get_task("folder").mean_image(load_image_folder(tree))
    assert mean.shape == (24, 24, 3) and np.allclose(mean, expected, atol=1e-6)


def test_a_renamed_class_folder_is_refused(capsys, folder_run, tmp_path):
    tree, checkpoint = folder_run
    renamed = tmp_path / "renamed"
    shutil.copytree(tree, renamed)
    for split in ("train", "test"):
        (renamed / split / "light").rename(renamed / split / "bright")
    argv = ["evaluate", "--task", "folder", "--data-dir", renamed]
    code, out, err = run(capsys, *argv, "--checkpoint", checkpoint)
    assert code == 2 and out == ""
    assert f"Checkpoint {checkpoint} was trained on the classes" in err
    assert "['bright'] that are not among them" in err
    assert "rename the class folders back" in err


def _evaluated_images(monkeypatch, task, dataset, checkpoint):
    """The test images evaluate_checkpoint gives the network."""
    import nengo_softlif.experiments.experiment as experiment  # noqa: PLC0415

    class Seen(Exception):
        pass

    def capture(net, images, labels, **kwargs):
        raise Seen(images, labels)

    monkeypatch.setattr(experiment, "evaluate", capture)
    with pytest.raises(Seen) as seen:
        experiment.evaluate_checkpoint(
            task, dataset, checkpoint, experiment.ExperimentConfig()
        )
    return seen.value.args


def test_evaluation_uses_the_stored_mean_image(monkeypatch, folder_run, tmp_path):
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    tree, checkpoint = folder_run
    other = tmp_path / "other"
    shutil.copytree(tree, other)
    shutil.rmtree(other / "train")  # other training images, the same test images
    write_tree(other, n_train=3, n_test=0, seed=7)
    task = get_task("folder")
    first = load_image_folder(tree)
    second = load_image_folder(other)
    assert not np.allclose(task.mean_image(first), task.mean_image(second))
    images_a, labels_a = _evaluated_images(monkeypatch, task, first, checkpoint)
    images_b, labels_b = _evaluated_images(monkeypatch, task, second, checkpoint)
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    stored = load_preprocessing(checkpoint)["mean_image"]
    expected, _ = task.test_data(first, stored)
    np.testing.assert_allclose(images_a, expected)


def test_an_old_checkpoint_without_a_mean_image_works_with_a_note(
    monkeypatch, folder_run, tmp_path
):
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    tree, checkpoint = folder_run

    def drop(arrays):
        del arrays["__preprocess__.mean_image"]

    old = edited_copy(
        checkpoint, tmp_path / "old.npz", lambda m: m.pop("classes"), drop
    )
    task, dataset = get_task("folder"), load_image_folder(tree)
    with pytest.warns(UserWarning, match="stores no mean image .* older nengo-softlif"):
        images, _ = _evaluated_images(monkeypatch, task, dataset, old)
    expected, _ = task.test_data(dataset)
    np.testing.assert_allclose(images, expected)


def test_data_with_the_classes_in_another_order_is_relabelled(monkeypatch, folder_run):
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    tree, checkpoint = folder_run
    dataset = load_image_folder(tree)
    swapped = Dataset(
        dataset.train_images,
        1 - dataset.train_labels,
        dataset.test_images,
        1 - dataset.test_labels,
        ("light", "dark"),
        "swapped",
    )
    task = get_task("folder")
    _, labels = _evaluated_images(monkeypatch, task, dataset, checkpoint)
    _, relabelled = _evaluated_images(monkeypatch, task, swapped, checkpoint)
    np.testing.assert_array_equal(relabelled, labels)


def test_resuming_on_other_classes_is_refused(capsys, folder_run, tmp_path):
    tree, checkpoint = folder_run
    renamed = tmp_path / "renamed"
    shutil.copytree(tree, renamed)
    for split in ("train", "test"):
        (renamed / split / "light").rename(renamed / split / "bright")
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(checkpoint, out / "checkpoint.npz")
    argv = ["train", "--task", "folder", "--data-dir", renamed, "--out", out]
    argv += ["--epochs", 2, "--engine", "keras", "--minibatch-size", 4, "--quiet"]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert "was trained on the classes ['dark', 'light']" in err
    assert "['bright', 'dark']" in err


# --- image-folder trees ---------------------------------------------------------


def test_a_one_class_tree_is_refused(capsys, tmp_path):
    tree = write_tree(tmp_path / "one", classes=("only",))
    with pytest.raises(DataError, match=r"holds only one class \(\['only'\]\)"):
        load_image_folder(tree)
    code, _, err = run(
        capsys, "train", "--task", "folder", "--data-dir", tree, "--out", tmp_path / "r"
    )
    assert code == 2 and "a classifier needs at least two class folders" in err


def test_an_empty_class_folder_is_refused(tmp_path):
    tree = write_tree(tmp_path / "t", classes=("a", "b", "c"))
    for split in ("train", "test"):
        shutil.rmtree(tree / split / "c")
        (tree / split / "c").mkdir()
    with pytest.raises(DataError, match="class folder.* train/c hold no images"):
        load_image_folder(tree)


def test_an_empty_class_folder_in_an_archive_is_refused(tmp_path):
    import tarfile  # noqa: PLC0415

    tree = write_tree(tmp_path / "t", classes=("a", "b", "c"))
    shutil.rmtree(tree / "train" / "c")
    (tree / "train" / "c").mkdir()
    archive = tmp_path / "t.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(tree, arcname="t")
    with pytest.raises(DataError, match="train/c hold no images"):
        load_image_folder(archive)


def test_a_rewritten_image_with_its_old_time_stamp_is_not_served_stale(tmp_path):
    tree = write_tree(tmp_path / "t")
    image = tree / "test" / "dark" / "0.bmp"  # BMP: the same size after rewriting
    Image.fromarray(np.full((24, 24, 3), 200, np.uint8)).save(image)
    cache = tmp_path / "cache"
    first = load_image_folder(tree, cache_dir=cache)
    stat = image.stat()
    Image.fromarray(np.full((24, 24, 3), 7, np.uint8)).save(image)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert image.stat().st_size == stat.st_size
    assert image.stat().st_mtime_ns == stat.st_mtime_ns
    second = load_image_folder(tree, cache_dir=cache)
    index = list(first.test_labels).index(0)  # the first test image of "dark"
    assert np.all(first.test_images[index] == 200)
    assert np.all(second.test_images[index] == 7)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_broken_links_and_link_loops_load_as_without_a_cache(tmp_path):
    tree = write_tree(tmp_path / "t")
    (tree / "train" / "dark" / "broken.png").symlink_to(tmp_path / "nowhere.png")
    (tree / "train" / "dark" / "loop1.png").symlink_to(tree / "train/dark/loop2.png")
    (tree / "train" / "dark" / "loop2.png").symlink_to(tree / "train/dark/loop1.png")
    (tree / "train" / "light" / "up").symlink_to(tree / "train")  # a folder loop
    plain = load_image_folder(tree)
    cached = load_image_folder(tree, cache_dir=tmp_path / "cache")
    again = load_image_folder(tree, cache_dir=tmp_path / "cache")
    for dataset in (cached, again):
        np.testing.assert_array_equal(dataset.train_images, plain.train_images)
        np.testing.assert_array_equal(dataset.train_labels, plain.train_labels)


# --- MNIST files -----------------------------------------------------------------


def _idx(array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _mnist_files(folder, train_shape=(5, 28, 28), test_shape=(5, 28, 28)):
    from nengo_softlif.data.mnist import _MNIST_FILES  # noqa: PLC0415

    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 255, train_shape),
        "train_labels": rng.integers(0, 10, train_shape[0]),
        "test_images": rng.integers(0, 255, test_shape),
        "test_labels": rng.integers(0, 10, test_shape[0]),
    }
    for key, stem in _MNIST_FILES.items():
        with gzip.open(folder / f"{stem}.gz", "wb") as f:
            f.write(_idx(arrays[key]))
    return folder


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_files_of_another_image_size_are_refused(tmp_path, split):
    shape = {f"{split}_shape": (5, 14, 56)}
    folder = _mnist_files(tmp_path, **shape)
    stem = "train-images-idx3-ubyte" if split == "train" else "t10k-images-idx3-ubyte"
    with pytest.raises(DataError) as info:
        load_mnist(folder)
    message = str(info.value)
    assert f"{folder / stem}.gz holds uint8 data of shape (5, 14, 56)" in message
    assert "must be uint8 of shape (N, 28, 28)" in message


def test_mnist_of_another_image_size_on_the_command_line(capsys, tmp_path):
    folder = _mnist_files(tmp_path, test_shape=(5, 14, 56))
    argv = ["train", "--task", "mnist", "--data-dir", folder, "--out", tmp_path / "r"]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "t10k-images-idx3-ubyte.gz holds uint8 data" in err


def test_dataset_splits_of_other_shapes_say_how_to_fix():
    with pytest.raises(ValueError, match="test images have shape .*resize them"):
        Dataset(
            np.zeros((2, 8, 8, 1), np.uint8),
            [0, 1],
            np.zeros((2, 8, 6, 1), np.uint8),
            [0, 1],
            ("a", "b"),
            "mine",
        )


# --- checkpoints ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_checkpoint(tmp_path_factory):
    """A one-epoch mnist-sample checkpoint (Keras engine)."""
    out = tmp_path_factory.mktemp("mnist") / "run"
    argv = ["train", "--task", "mnist-sample", "--train-images", "100", "--out", out]
    assert main([str(a) for a in [*argv, "--epochs", 1, "--engine", "keras"]]) == 0
    return out / "checkpoint.npz"


def _set_string_bias(arrays):
    arrays["output.bias"] = np.array(["x"] * arrays["output.bias"].size)


@pytest.mark.parametrize(
    "edit_meta, edit_arrays, words",
    [
        (None, _set_string_bias, "parameter 'output.bias' holds <U1 values"),
        (
            lambda m: m["architecture"]["layers"][0].update(filters=16.5),
            None,
            "Conv filters must be a whole number >= 1, got 16.5",
        ),
        (
            lambda m: m["architecture"].update(input_shape=[28, "28", 1]),
            None,
            "input_shape must be whole numbers",
        ),
        (lambda m: m.update(seed="x"), None, "seed must be a whole number"),
        (
            lambda m: m["lif_params"].update(tau_rc="fast"),
            None,
            "tau_rc must be a number, got 'fast'",
        ),
        (lambda m: m.update(classes=5), None, "classes must be a list of 10 names"),
        (lambda m: m["neuron_type"].pop("type"), None, "holds a bad neuron setting"),
        (
            lambda m: m["architecture"]["layers"][4].update(dropout=2),
            None,
            "Dense dropout must be a number in [0, 1), got 2",
        ),
        (lambda m: m.pop("architecture"), None, "unreadable header"),
    ],
)
def test_a_hand_edited_checkpoint_is_named(
    capsys, mnist_checkpoint, tmp_path, edit_meta, edit_arrays, words
):
    path = edited_copy(
        mnist_checkpoint, tmp_path / "edited.npz", edit_meta, edit_arrays
    )
    with pytest.raises(CheckpointError) as info:
        load_network(path)
    assert f"Checkpoint {path}" in str(info.value)
    assert words in str(info.value)
    argv = ["evaluate", "--task", "mnist-sample", "--checkpoint", path]
    code, out, err = run(capsys, *argv, "--n-test", 10)
    assert code == 2 and out == "" and words in err and str(path) in err


def test_a_stored_mean_image_of_another_shape_is_refused(folder_run, tmp_path):
    from nengo_softlif.experiments.experiment import (  # noqa: PLC0415
        ExperimentConfig,
        evaluate_checkpoint,
    )
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415

    tree, checkpoint = folder_run

    def shrink(arrays):
        arrays["__preprocess__.mean_image"] = np.zeros((20, 20, 3), np.float32)

    path = edited_copy(checkpoint, tmp_path / "edited.npz", None, shrink)
    with pytest.raises(CheckpointError, match=r"edited.npz stores a mean image of"):
        evaluate_checkpoint(
            get_task("folder"), load_image_folder(tree), path, ExperimentConfig()
        )


# --- Python API: evaluate() -----------------------------------------------------


@pytest.fixture(scope="module")
def net():
    from architectures import TINY  # noqa: PLC0415

    return build_network(TINY, lif_params="mnist")


def _images(n=4):
    return np.random.default_rng(0).uniform(0, 1, (n, 8, 8, 2))


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda x: (255 * x).astype(np.float32), ValueError, "divide by 255"),
        (lambda x: (255 * x).astype(np.int64), ValueError, "divide by 255"),
        (lambda x: (255 * x).astype(np.uint16), ValueError, "divide by 255"),
        (lambda x: 255 * x - 128, ValueError, "look like 0-255 pixel values"),
        (lambda x: (255 * x).astype(np.uint8), ValueError, "raw 8-bit pixels"),
        (lambda x: x.astype(np.complex64), TypeError, "images are complex"),
        (lambda x: x.astype(str), TypeError, "images must be numbers"),
        (lambda x: x[0], ValueError, r"one image of shape \(8, 8, 2\): add the batch"),
        (lambda x: x[0].ravel(), ValueError, r"one image of shape \(128,\)"),
        (
            lambda x: x[:, :6],
            ValueError,
            r"\(6, 8, 2\)\) but the network input has 128",
        ),
        (lambda x: x[:0], ValueError, "images is empty"),
    ],
)
def test_evaluate_refuses_images_it_cannot_classify(net, make, error, words):
    images = make(_images())
    labels = [0, 1, 2, 0][: len(images)] if images.ndim == 4 else [0]
    with pytest.raises(error, match=words):
        evaluate(net, images, labels, backend="nengo")


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x,
        lambda x: x - x.mean(axis=0),  # mean-subtracted
        lambda x: (x > 0.5).astype(np.int64),  # binary images as integers
        lambda x: x.reshape(len(x), -1),  # flattened
    ],
)
def test_evaluate_accepts_preprocessed_images(net, make):
    result = evaluate(net, make(_images()), [0, 1, 2, 0], backend="nengo")
    assert result.n_images == 4 and 0 <= result.error <= 1


def test_the_shipped_network_refuses_0_255_images():
    from nengo_softlif.data import center_crop, load_cifar10_sample  # noqa: PLC0415
    from nengo_softlif.pretrained import load_pretrained  # noqa: PLC0415

    shipped, _ = load_pretrained("cifar10")
    images, labels = load_cifar10_sample()
    raw = center_crop(images[:4], 24) * 255  # float32 on a 0-255 scale
    with pytest.raises(ValueError, match="divide by 255"):
        evaluate(shipped, raw, labels[:4], backend="nengo")


def test_load_pretrained_needs_a_name():
    from nengo_softlif.pretrained import load_pretrained  # noqa: PLC0415

    with pytest.raises(
        TypeError, match=r"name must be a string, one of \['cifar10', 'cifar10-loihi'\]"
    ):
        load_pretrained(["cifar10"])


# --- Python API: train() and TrainConfig ----------------------------------------


@pytest.mark.parametrize(
    "value, error, words",
    [
        ("0.1", TypeError, "TrainConfig learning_rate must be a number, got '0.1'"),
        (None, TypeError, "TrainConfig learning_rate must be a number, got None"),
        (float("nan"), ValueError, "learning_rate must be finite and > 0"),
        (-1.0, ValueError, "learning_rate must be finite and > 0"),
    ],
)
def test_train_config_learning_rate(value, error, words):
    with pytest.raises(error, match=words):
        TrainConfig(learning_rate=value)


def _train(net, data, **config):
    return train(net, data, TrainConfig(epochs=1, engine="keras", **config), verbose=0)


@pytest.mark.parametrize(
    "labels, words",
    [
        ([0, 1, 5, 2] * 5, r"training labels must be classes 0-2 .* got \[5\]"),
        ([0, -1, 1, 2] * 5, r"training labels must be classes 0-2 .* got \[-1\]"),
        ([0.5, 1, 2, 0] * 5, "training labels must be whole class numbers"),
        ([0, 1, 2] * 5, r"training labels must have shape \(20,\)"),
    ],
)
def test_train_refuses_labels_outside_the_classes(net, labels, words):
    images = np.random.default_rng(0).uniform(0, 1, (20, 8, 8, 2))

    def data(epoch, rng):
        return images, np.asarray(labels)

    with pytest.raises(ValueError, match=words):
        _train(net, data, minibatch_size=10)


@pytest.mark.parametrize(
    "data, error, words",
    [
        (
            (np.zeros((20, 8, 8, 2)), np.zeros(20, int)),
            TypeError,
            r"got a tuple; wrap arrays as ArrayData\(images, labels\)",
        ),
        (
            lambda epoch, rng: (np.zeros((20, 6, 8, 2)), np.zeros(20, int)),
            ValueError,
            r"training images of epoch 1 has 96 values .* the network input has 128",
        ),
        (
            lambda epoch, rng: (np.full((20, 8, 8, 2), 200.0), np.zeros(20, int)),
            ValueError,
            "divide by 255",
        ),
        (
            ArrayData(np.full((20, 8, 8, 2), 200, np.uint8), np.zeros(20, int)),
            ValueError,
            "training images are raw 8-bit pixels",
        ),
    ],
)
def test_train_refuses_data_it_cannot_learn(net, data, error, words):
    with pytest.raises(error, match=words):
        _train(net, data, minibatch_size=10)


def test_train_with_no_images_says_so():
    with pytest.raises(ValueError, match="ArrayData got no images"):
        ArrayData(np.zeros((0, 8, 8, 2)), [])


def test_train_refuses_other_arguments(net):
    data = ArrayData(_images(), [0, 1, 2, 0])
    with pytest.raises(TypeError, match="net must be a network from build_network"):
        train("mnist", data)
    with pytest.raises(TypeError, match=r"config must be a TrainConfig .* got a dict"):
        train(net, data, {"epochs": 1})
