"""A sweep over bad input: every file the package reads, every array argument.

Each case either must fail with a clear error (one of the package's error types,
whose message names the file or argument) or must give the right result (the
same as a reference input). A silent result where an error is due, a wrong
result, an unclear error or any other exception (a traceback) fails the case.

``python tests/test_input_sweep.py`` prints the table of outcomes.
"""

import dataclasses
import gzip
import json
import os
import pickle
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

CLEAR, CORRECT = "clear error", "correct result"
SILENT, WRONG, UNCLEAR, TRACEBACK = (
    "silent result",
    "wrong result",
    "unclear error",
    "traceback",
)


@dataclasses.dataclass
class Case:
    """One input. ``names``: words an error message must hold (None: a result
    is due, and ``check(result)`` must be true)."""

    group: str
    name: str
    run: Callable
    names: tuple | None = None
    check: Callable | None = None


def outcome(case):
    """(outcome, detail) of running one case."""
    try:
        result = case.run()
    except (ValueError, TypeError, OSError) as err:  # the package's error types
        message = str(err)
        if case.names is None:
            return UNCLEAR, f"error where a result is due: {message}"
        if all(str(n) in message for n in case.names):
            return CLEAR, message
        return UNCLEAR, message
    except Exception as err:  # noqa: BLE001
        return TRACEBACK, f"{type(err).__name__}: {err}"
    if case.names is not None:
        return SILENT, f"no error (result {type(result).__name__})"
    return (CORRECT, "") if case.check(result) else (WRONG, repr(result)[:200])


# --- data files -------------------------------------------------------------------


def _idx(array, code=8):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    dtype = {8: ">u1", 0x0B: ">i2"}[code]
    return header + array.astype(dtype).tobytes()


def _mnist(folder, **replace):
    """MNIST files in ``folder``; ``replace[key]`` gives a file's bytes."""
    from nengo_softlif.data.mnist import _MNIST_FILES  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 255, (6, 28, 28)),
        "train_labels": np.arange(6) % 10,
        "test_images": rng.integers(0, 255, (4, 28, 28)),
        "test_labels": np.arange(4) % 10,
    }
    for key, stem in _MNIST_FILES.items():
        data = replace.get(key, _idx(arrays[key]))
        if data is None:
            continue
        with gzip.open(folder / f"{stem}.gz", "wb") as f:
            f.write(data)
    return folder, arrays


def mnist_cases(tmp):
    from nengo_softlif.data import load_mnist  # noqa: PLC0415

    def case(name, key, data, raw=None):
        folder = tmp / "mnist" / name.replace(" ", "-")

        def run():
            _mnist(folder, **{key: data})
            stem = {
                "train_images": "train-images-idx3-ubyte",
                "test_images": "t10k-images-idx3-ubyte",
                "train_labels": "train-labels-idx1-ubyte",
                "test_labels": "t10k-labels-idx1-ubyte",
            }[key]
            if raw is not None:  # damage the compressed file itself
                path = folder / f"{stem}.gz"
                path.write_bytes(raw(path.read_bytes()))
            return load_mnist(folder)

        return Case("MNIST IDX files", name, run, names=(str(folder),))

    good = _idx(np.zeros((4, 28, 28)))
    labels = _idx(np.zeros(4))

    def ok():
        folder, arrays = _mnist(tmp / "mnist" / "good")
        dataset = load_mnist(folder)
        return dataset, arrays

    return [
        case("missing test images", "test_images", None),
        case("empty file", "test_images", b""),
        case("header cut", "test_images", good[:6]),
        case("data cut", "test_images", good[:-10]),
        case("extra bytes", "test_images", good + b"\0" * 7),
        case("bad magic", "test_images", b"\1\2" + good[2:]),
        case("no dimensions", "test_images", bytes([0, 0, 8, 0])),
        case("int16 images", "test_images", _idx(np.zeros((4, 28, 28)), 0x0B)),
        case("14x56 images", "test_images", _idx(np.zeros((4, 14, 56)))),
        case("2-D images", "test_images", _idx(np.zeros((4, 784)))),
        case("labels 3-D", "test_labels", _idx(np.zeros((4, 1, 1)))),
        case("label 12", "test_labels", _idx(np.array([0, 1, 12, 3]))),
        case("3 labels for 4 images", "test_labels", _idx(np.zeros(3))),
        case("5 labels for 4 images", "test_labels", _idx(np.zeros(5))),
        case("missing train labels", "train_labels", None),
        case("gzip stream cut", "train_labels", labels, raw=lambda b: b[: len(b) // 2]),
        case(
            "gzip bytes flipped",
            "train_labels",
            labels,
            raw=lambda b: b[:12] + b"x" * (len(b) - 12),
        ),
        Case(
            "MNIST IDX files",
            "valid files",
            ok,
            check=lambda r: np.array_equal(
                r[0].test_images[..., 0], r[1]["test_images"]
            )
            and np.array_equal(r[0].train_labels, r[1]["train_labels"]),
        ),
    ]


def _batch(images, labels, **extra):
    flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return pickle.dumps({b"data": flat, b"labels": list(labels), **extra})


def _cifar(folder, **replace):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    made = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 255, (2, 32, 32, 3)).astype(np.uint8)
        labels = rng.integers(0, 10, 2)
        made[name] = (images, labels)
        data = replace.get(name, _batch(images, labels))
        if data is not None:
            (folder / name).write_bytes(data)
    return folder, made


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def cifar_cases(tmp):
    from nengo_softlif.data import load_cifar10  # noqa: PLC0415

    def case(name, batch, data):
        folder = tmp / "cifar" / name.replace(" ", "-")

        def run():
            _cifar(folder, **{batch: data})
            return load_cifar10(folder)

        return Case("CIFAR-10 python batches", name, run, names=(str(folder),))

    images = np.zeros((2, 32, 32, 3), np.uint8)

    def ok():
        folder, made = _cifar(tmp / "cifar" / "good")
        return load_cifar10(folder), made

    return [
        case("missing batch", "data_batch_3", None),
        case("not a pickle", "test_batch", b"hello"),
        case("empty file", "test_batch", b""),
        case("pickle of a list", "test_batch", pickle.dumps([1, 2])),
        case("a code object", "test_batch", pickle.dumps(_Evil())),
        case("no labels", "test_batch", pickle.dumps({b"data": np.zeros((2, 3072))})),
        case("16x16 images", "test_batch", _batch(np.zeros((2, 16, 16, 3)), [0, 1])),
        case("one label for two", "test_batch", _batch(images, [0])),
        case("label 10", "test_batch", _batch(images, [0, 10])),
        case("label -1", "data_batch_1", _batch(images, [0, -1])),
        case("text labels", "test_batch", _batch(images, ["cat", "dog"])),
        Case(
            "CIFAR-10 python batches",
            "valid batches",
            ok,
            check=lambda r: np.array_equal(r[0].test_images, r[1]["test_batch"][0])
            and np.array_equal(r[0].test_labels, r[1]["test_batch"][1]),
        ),
    ]


def _png(path, pixels):
    from PIL import Image  # noqa: PLC0415

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _tree(root, classes=("a", "b"), n=2, size=(6, 6), ext="png"):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in classes:
            for i in range(n):
                pixels = rng.integers(0, 255, (*size, 3)).astype(np.uint8)
                _png(root / split / cls / f"{i}.{ext}", pixels)
    return root


def folder_cases(tmp):
    from nengo_softlif.data import load_image_folder  # noqa: PLC0415

    group = "image-folder trees"

    def case(name, damage, names=None, check=None, cache=False):
        root = tmp / "folder" / name.replace(" ", "-")

        def run():
            _tree(root)
            damage(root)
            cache_dir = tmp / "folder-cache" if cache else None
            return load_image_folder(root, cache_dir=cache_dir)

        if check is None:
            names = names or (str(root),)
        return Case(group, name, run, names=names, check=check)

    def write(rel, data):
        return lambda root: (root / rel).write_bytes(data)

    def reference(cache=False):
        root = _tree(tmp / "folder" / "reference")
        return load_image_folder(root)

    def same_as_reference(dataset):
        ref = reference()
        return np.array_equal(
            dataset.train_images, ref.train_images
        ) and np.array_equal(dataset.test_labels, ref.test_labels)

    def link(rel, target):
        return lambda root: (root / rel).symlink_to(root / target)

    def loop(root):
        (root / "train/a/x.png").symlink_to(root / "train/a/y.png")
        (root / "train/a/y.png").symlink_to(root / "train/a/x.png")

    def sixteen_bit(root):
        _png(root / "train/a/9.png", np.zeros((6, 6), np.uint16))

    cases = [
        case(
            "corrupt image",
            write("train/a/0.png", b"\x89PNG broken"),
            names=("train/a/0.png",),
        ),
        case("empty image file", write("test/b/1.png", b""), names=("test/b/1.png",)),
        case("16-bit image", sixteen_bit, names=("train/a/9.png", "16-bit")),
        case(
            "image of another size",
            lambda r: _png(r / "test/a/5.png", np.zeros((7, 6, 3), np.uint8)),
            names=("test/a/5.png",),
        ),
        case(
            "one class",
            lambda r: [shutil.rmtree(r / s / "b") for s in ("train", "test")],
        ),
        case(
            "empty class folder",
            lambda r: [p.unlink() for p in (r / "train/b").iterdir()],
        ),
        case(
            "class only in test",
            lambda r: _png(r / "test/c/0.png", np.zeros((6, 6, 3), np.uint8)),
        ),
        case("no test split", lambda r: shutil.rmtree(r / "test")),
        case(
            "notes and hidden files",
            lambda r: [
                (r / "train/a/README.txt").write_text("x"),
                (r / "train/a/.hidden.png").write_bytes(b"junk"),
            ],
            names=None,
            check=same_as_reference,
        ),
    ]
    if hasattr(os, "symlink"):
        cases += [
            case(
                "broken link",
                link("train/a/z.png", "nowhere.png"),
                check=same_as_reference,
            ),
            case("link loop", loop, check=same_as_reference),
            case(
                "broken link, cached",
                link("train/a/z.png", "nowhere.png"),
                check=same_as_reference,
                cache=True,
            ),
            case("link loop, cached", loop, check=same_as_reference, cache=True),
            case(
                "folder link loop, cached",
                link("train/a/up", "train"),
                check=same_as_reference,
                cache=True,
            ),
        ]

    def tar_case(name, make, names=None):
        path = tmp / "tars" / f"{name.replace(' ', '-')}.tar.gz"

        def run():
            root = _tree(tmp / "tars" / "src")
            path.parent.mkdir(exist_ok=True)
            make(path, root)
            return load_image_folder(path)

        return Case(group, name, run, names=names or (str(path),))

    def packed(path, root):
        with tarfile.open(path, "w:gz") as tf:
            tf.add(root, arcname="x")

    def cut(path, root):
        packed(path, root)
        path.write_bytes(path.read_bytes()[:-200])

    def two_trees(path, root):
        with tarfile.open(path, "w:gz") as tf:
            tf.add(root, arcname="x")
            tf.add(root, arcname="y")

    cases += [
        tar_case("archive cut short", cut),
        tar_case("archive of two trees", two_trees),
        tar_case("not an archive", lambda p, r: p.write_bytes(b"plain text")),
    ]
    return cases


def cache_cases(tmp):
    from nengo_softlif.data import load_image_folder  # noqa: PLC0415

    group = "decoded-image cache"

    def run_with(prepare):
        def run():
            # BMP: a rewritten image keeps its file size
            root = _tree(tmp / "cache-src" / prepare.__name__, ext="bmp")
            cache = tmp / "cache" / prepare.__name__
            first = load_image_folder(root, cache_dir=cache)
            expected = prepare(root, cache, first)
            return load_image_folder(root, cache_dir=cache), expected

        return run

    def damaged(root, cache, first):
        for f in cache.iterdir():
            f.write_bytes(b"not a zip")
        return first.train_images

    def truncated(root, cache, first):
        for f in cache.iterdir():
            f.write_bytes(f.read_bytes()[:100])
        return first.train_images

    def rewritten_same_mtime(root, cache, first):
        path = root / "train/a/0.bmp"
        stat = path.stat()
        _png(path, np.full((6, 6, 3), 9, np.uint8))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_size == stat.st_size
        images = first.train_images.copy()
        images[0] = 9  # the first image of class a
        return images

    def unwritable(root, cache, first):
        shutil.rmtree(cache)
        cache.write_text("a file, not a folder")
        return first.train_images

    def check(result):
        dataset, expected = result
        return np.array_equal(dataset.train_images, expected)

    return [
        Case(group, name, run_with(fn), check=check)
        for name, fn in [
            ("damaged cache file", damaged),
            ("truncated cache file", truncated),
            ("image rewritten, old mtime", rewritten_same_mtime),
            ("cache folder is a file", unwritable),
        ]
    ]


# --- checkpoints ------------------------------------------------------------------


def _checkpoint(tmp):
    from nengo_softlif import PRESETS, GaussianNoise  # noqa: PLC0415
    from nengo_softlif.network.architectures import build_network  # noqa: PLC0415
    from nengo_softlif.network.checkpoint import save_checkpoint  # noqa: PLC0415

    from architectures import TINY  # noqa: PLC0415

    path = tmp / "checkpoints" / "good.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        preset = PRESETS["cifar10"]
        net = build_network(TINY, preset.soft_lif(noise=GaussianNoise(10)), preset)
        save_checkpoint(
            path,
            net,
            preprocessing={"mean_image": np.full((8, 8, 2), 0.5)},
            classes=["x", "y", "z"],
            epoch=1,
        )
    return path


def checkpoint_cases(tmp):
    from nengo_softlif.network.checkpoint import load_network  # noqa: PLC0415

    group = "checkpoints"

    def edited(name, meta=None, arrays=None, raw=None, header=None):
        path = tmp / "checkpoints" / f"{name.replace(' ', '-')}.npz"

        def run():
            source = _checkpoint(tmp)
            if raw is not None:
                path.write_bytes(raw(source.read_bytes()))
                return load_network(path)
            with np.load(source) as data:
                stored = {k: data[k] for k in data.files}
            header_text = header
            header_json = json.loads(str(stored["__meta__"]))
            if meta:
                meta(header_json)
            stored["__meta__"] = np.array(header_text or json.dumps(header_json))
            if arrays:
                arrays(stored)
            np.savez(path, **stored)
            return load_network(path)

        return Case(group, name, run, names=(str(path),))

    def param(key, value):
        return lambda a: a.__setitem__(key, value)

    def layer(i, **values):
        return lambda m: m["architecture"]["layers"][i].update(values)

    def drop_meta(a):
        del a["__meta__"]

    def ok():
        net, meta = load_network(_checkpoint(tmp))
        return meta

    return [
        Case(
            group,
            "missing file",
            lambda: load_network(tmp / "nowhere.npz"),
            names=("nowhere.npz",),
        ),
        edited("empty file", raw=lambda b: b""),
        edited("cut short", raw=lambda b: b[: len(b) // 2]),
        edited("not a zip", raw=lambda b: b"PK" + b"x" * 100),
        edited("header is a list", header="[1, 2]"),
        edited("header is not JSON", header="{format: 1"),
        edited("format 99", meta=lambda m: m.update(format=99)),
        edited("format '1'", meta=lambda m: m.update(format="1")),
        edited("no architecture", meta=lambda m: m.pop("architecture")),
        edited("filters 16.5", meta=layer(0, filters=16.5)),
        edited("filters -4", meta=layer(0, filters=-4)),
        edited("kernel '3'", meta=layer(0, kernel="3")),
        edited("padding 7", meta=layer(0, padding=7)),
        edited("unknown layer", meta=layer(1, type="Pool3D")),
        edited("unknown layer field", meta=layer(1, window=3)),
        edited(
            "input shape 2-D",
            meta=lambda m: m["architecture"].update(input_shape=[8, 8]),
        ),
        edited(
            "input shape 0",
            meta=lambda m: m["architecture"].update(input_shape=[0, 8, 2]),
        ),
        edited("tau_rc string", meta=lambda m: m["lif_params"].update(tau_rc="x")),
        edited("tau_rc negative", meta=lambda m: m["lif_params"].update(tau_rc=-1)),
        edited("gain NaN", meta=lambda m: m["lif_params"].update(gain=float("nan"))),
        edited(
            "unknown neuron", meta=lambda m: m["neuron_type"].update(type="Izhikevich")
        ),
        edited("sigma -1", meta=lambda m: m["neuron_type"].update(sigma=-1)),
        edited("noise spec", meta=lambda m: m["neuron_type"].update(noise="gauss:x")),
        edited("seed string", meta=lambda m: m.update(seed="x")),
        edited("classes a number", meta=lambda m: m.update(classes=3)),
        edited(
            "two classes for three outputs", meta=lambda m: m.update(classes=["x", "y"])
        ),
        edited(
            "string parameter", arrays=param("output.bias", np.array(["a", "b", "c"]))
        ),
        edited("NaN parameter", arrays=param("output.bias", np.full(3, np.nan))),
        edited("parameter shape", arrays=param("output.bias", np.zeros(4))),
        edited("missing parameter", arrays=lambda a: a.pop("output.bias")),
        edited("extra parameter", arrays=param("extra.weights", np.zeros(3))),
        edited("no header", arrays=drop_meta),
        Case(
            group,
            "valid checkpoint",
            ok,
            check=lambda m: m["classes"] == ["x", "y", "z"],
        ),
    ]


def preprocessing_cases(tmp):
    group = "checkpoint mean images"

    def case(name, value, check=None):
        path = tmp / "checkpoints" / f"mean-{name.replace(' ', '-')}.npz"

        def run():
            from nengo_softlif.network.checkpoint import (  # noqa: PLC0415
                load_preprocessing,
            )

            with np.load(_checkpoint(tmp)) as data:
                stored = {k: data[k] for k in data.files}
            stored["__preprocess__.mean_image"] = value
            np.savez(path, **stored)
            return load_preprocessing(path)

        names = None if check else (str(path), "mean_image")
        return Case(group, name, run, names=names, check=check)

    return [
        case("NaN", np.full((8, 8, 2), np.nan)),
        case("strings", np.full((8, 8, 2), "x")),
        case("complex", np.full((8, 8, 2), 1j)),
        case(
            "valid",
            np.full((8, 8, 2), 0.25),
            check=lambda p: np.all(p["mean_image"] == 0.25),
        ),
    ]


# --- arrays given to the Python API -----------------------------------------------


_NET = {}


def _net():
    if "net" not in _NET:
        from nengo_softlif.network.architectures import build_network  # noqa: PLC0415
        from nengo_softlif.network.checkpoint import (
            get_params,
            set_params,
        )  # noqa: PLC0415

        from architectures import TINY  # noqa: PLC0415

        net = build_network(TINY, lif_params="mnist")
        params = get_params(net)
        rng = np.random.default_rng(1)
        params["output.weights"] = rng.normal(0, 0.3, params["output.weights"].shape)
        set_params(net, params)
        _NET["net"] = net
    return _NET["net"]


def _x(n=4):
    return np.random.default_rng(0).uniform(0, 1, (n, 8, 8, 2))


_LABELS = np.array([0, 1, 2, 0])


def evaluate_cases(tmp):
    from nengo_softlif.evaluation.runner import evaluate  # noqa: PLC0415

    group = "evaluate(net, images, labels)"
    reference = {}

    def predictions(images):
        if "p" not in reference:
            reference["p"] = evaluate(
                _net(), _x().astype(np.float32), _LABELS, backend="nengo"
            ).predictions
        return reference["p"]

    def case(name, images, labels=_LABELS, names=None, same_as=None):
        def run():
            return evaluate(_net(), images, labels, backend="nengo")

        check = None
        if names is None:

            def check(result):
                expected = predictions(None) if same_as is None else same_as()
                return np.array_equal(result.predictions, expected)

        return Case(group, name, run, names=names, check=check)

    x = _x()

    def binary_reference():
        return evaluate(
            _net(), (x > 0.5).astype(np.float32), _LABELS, backend="nengo"
        ).predictions

    return [
        case("float32 0-1", x.astype(np.float32)),
        case("float64 0-1", x),
        case(
            "float16 0-1",
            x.astype(np.float16),
            same_as=lambda: evaluate(
                _net(),
                x.astype(np.float16).astype(np.float32),
                _LABELS,
                backend="nengo",
            ).predictions,
        ),
        case("flattened", x.reshape(4, -1)),
        case("nested lists", x.tolist()),
        case("int64 0/1", (x > 0.5).astype(np.int64), same_as=binary_reference),
        case("bool", x > 0.5, same_as=binary_reference),
        case("uint8 0-255", (255 * x).astype(np.uint8), names=("images", "255")),
        case(
            "uint16 0-255",
            (255 * x).astype(np.uint16),
            names=("images", "divide by 255"),
        ),
        case(
            "int64 0-255", (255 * x).astype(np.int64), names=("images", "divide by 255")
        ),
        case(
            "float32 0-255",
            (255 * x).astype(np.float32),
            names=("images", "divide by 255"),
        ),
        case(
            "float 0-255 minus mean",
            255 * (x - x.mean(0)),
            names=("images", "divide by 255"),
        ),
        case("complex", x.astype(np.complex64), names=("images", "complex")),
        case("strings", x.astype(str), names=("images", "numbers")),
        case("objects", x.astype(object), names=("images",)),
        case("ragged lists", [[0.1, 0.2], [0.3]], names=("images",)),
        case("NaN", np.where(x > 0.9, np.nan, x), names=("images", "NaN")),
        case("inf", np.where(x > 0.9, np.inf, x), names=("images", "NaN or inf")),
        case("one image", x[0], labels=[0], names=("images", "add the batch axis")),
        case(
            "one flat image",
            x[0].ravel(),
            labels=[0],
            names=("images", "add the batch axis"),
        ),
        case("a scalar", 0.5, labels=[0], names=("images", "batch")),
        case("no images", x[:0], labels=[], names=("images", "empty")),
        case("too narrow", x[:, :, :6], names=("images", "network input has 128")),
        case(
            "channels first", x.transpose(0, 3, 1, 2), names=("images", "channels last")
        ),
        case("an extra axis of 1", x[:, None]),
        case("no channel axis", x[..., 0], names=("images", "network input has 128")),
        case("labels float whole", x, labels=_LABELS.astype(float)),
        case("labels fractional", x, labels=_LABELS + 0.5, names=("labels", "whole")),
        case("labels NaN", x, labels=[0, np.nan, 1, 2], names=("labels", "whole")),
        case("labels out of range", x, labels=[0, 1, 3, 0], names=("labels", "0-2")),
        case("labels negative", x, labels=[0, 1, -1, 0], names=("labels", "0-2")),
        case("labels too few", x, labels=[0, 1], names=("labels", "(4,)")),
        case("labels 2-D", x, labels=[[0], [1], [2], [0]], names=("labels", "(4,)")),
        case(
            "labels strings",
            x,
            labels=["a", "b", "c", "a"],
            names=("labels", "integers"),
        ),
        case("labels complex", x, labels=_LABELS + 0j, names=("labels", "integers")),
    ]


def train_cases(tmp):
    from nengo_softlif.training.loop import (
        ArrayData,
        TrainConfig,
        train,
    )  # noqa: PLC0415

    group = "train(net, data, config)"
    config = TrainConfig(epochs=1, minibatch_size=4, engine="keras")
    x = np.concatenate([_x()] * 2)
    y = np.concatenate([_LABELS] * 2)

    def fresh():
        from nengo_softlif.network.architectures import build_network  # noqa: PLC0415

        from architectures import TINY  # noqa: PLC0415

        return build_network(TINY, lif_params="mnist")

    def case(name, images=x, labels=y, names=None, data=None, cfg=config):
        def run():
            return train(fresh(), data or ArrayData(images, labels), cfg, verbose=0)

        check = (
            None
            if names
            else (lambda r: r.epochs_run == 1 and np.isfinite(r.history[0]["loss"]))
        )
        return Case(group, name, run, names=names, check=check)

    def fixed(images, labels):
        return lambda epoch, rng: (images, labels)

    return [
        case("float64 0-1", x),
        case("flattened", x.reshape(8, -1)),
        case(
            "uint8 0-255",
            (255 * x).astype(np.uint8),
            names=("training images", "raw 8-bit"),
        ),
        case(
            "int64 0-255",
            (255 * x).astype(np.int64),
            names=("training images", "divide by 255"),
        ),
        case("float 0-255", 255 * x, names=("training images", "divide by 255")),
        case("complex", x + 0j, names=("training images", "complex")),
        case("NaN", np.where(x > 0.9, np.nan, x), names=("training images", "NaN")),
        case(
            "too narrow",
            x[:, :, :6],
            names=("training images", "network input has 128"),
        ),
        case("no images", x[:0], labels=y[:0], names=("no images",)),
        case("labels out of range", labels=y + 1, names=("training labels", "0-2")),
        case("labels fractional", labels=y + 0.5, names=("training labels", "whole")),
        case(
            "labels 2-D", data=fixed(x, y[:, None]), names=("training labels", "(8,)")
        ),
        case("labels too few", data=fixed(x, y[:5]), names=("training labels", "(8,)")),
        case(
            "labels strings",
            data=fixed(x, y.astype(str)),
            names=("training labels", "integers"),
        ),
        case("(X, y) tuple", data=(x, y), names=("data", "ArrayData(images, labels)")),
        case(
            "data returns one image",
            data=fixed(x[0], y[:1]),
            names=("training images", "add the batch axis"),
        ),
        case(
            "augment returns uint8",
            data=ArrayData(x, y, augment=lambda im, rng: (255 * im).astype(np.uint8)),
            names=("training images after augment", "raw 8-bit"),
        ),
        case(
            "fewer images than a minibatch",
            x[:2],
            y[:2],
            names=("fewer than one minibatch",),
        ),
    ]


def config_cases(tmp):
    from nengo_softlif.training.loop import TrainConfig  # noqa: PLC0415

    group = "TrainConfig(...)"
    cases = []
    for field, default in [
        ("learning_rate", 1e-3),
        ("momentum", 0.9),
        ("warmup_epochs", 0.0),
        ("weight_decay", 0.0),
        ("label_smoothing", 0.0),
        ("init_scale", 1.0),
        ("rate_penalty", 0.0),
        ("rate_target", 0.0),
        ("ema_decay", 0.0),
        ("first_layer_scale", 1.0),
        ("input_scale", 1.0),
        ("l2", 0.0),
    ]:
        for bad in ("0.1", None, float("nan"), float("inf"), -5.0, [0.1], True):
            cases.append(
                Case(
                    group,
                    f"{field}={bad!r}",
                    lambda f=field, b=bad: TrainConfig(**{f: b}),
                    names=(field,),
                )
            )
        cases.append(
            Case(
                group,
                f"{field}={default!r}",
                lambda f=field, d=default: TrainConfig(**{f: d}),
                check=lambda c: True,
            )
        )
    for field in ("nesterov", "normalize_gradients"):
        cases.append(
            Case(
                group,
                f"{field}='yes'",
                lambda f=field: TrainConfig(**{f: "yes"}),
                names=(field, "True or False"),
            )
        )
    for bad, names in (
        (1.5, ("weight_levels", "integer")),
        (-1, ("weight_levels", "0")),
    ):
        cases.append(
            Case(
                group,
                f"weight_levels={bad!r}",
                lambda b=bad: TrainConfig(weight_levels=b),
                names=names,
            )
        )
    for bad, names in (
        ({"local1": -1.0}, ("l2['local1']", ">= 0")),
        ({"local1": "0.1"}, ("l2['local1']", "number")),
        ({1: 0.1}, ("l2", "layer names")),
    ):
        cases.append(
            Case(group, f"l2={bad!r}", lambda b=bad: TrainConfig(l2=b), names=names)
        )
    cases.append(
        Case(
            group,
            "l2={'output': 0.01}",
            lambda: TrainConfig(l2={"output": 0.01}),
            check=lambda c: c.l2_of("output") == 0.01 and c.l2_of("conv1") == 0,
        )
    )
    for field in ("epochs", "minibatch_size", "seed"):
        for bad in (1.5, "3", None, -1, True):
            cases.append(
                Case(
                    group,
                    f"{field}={bad!r}",
                    lambda f=field, b=bad: TrainConfig(**{f: b}),
                    names=(field,),
                )
            )
    return cases


def other_api_cases(tmp):
    from nengo_softlif.data import (
        Dataset,
        center_crop,
        mean_image,
        to_float,
    )  # noqa: PLC0415
    from nengo_softlif.experiments.tasks import get_task  # noqa: PLC0415
    from nengo_softlif.pretrained import load_pretrained  # noqa: PLC0415

    group = "other public functions"
    images = np.zeros((2, 8, 8, 1), np.uint8)

    def dataset(**changes):
        values = dict(
            train_images=images,
            train_labels=[0, 1],
            test_images=images,
            test_labels=[0, 1],
            classes=("a", "b"),
            name="d",
        )
        values.update(changes)
        return lambda: Dataset(**values)

    task = get_task("folder")
    cifar_like = Dataset(
        np.zeros((2, 32, 32, 3), np.uint8),
        [0, 1],
        np.zeros((2, 32, 32, 3), np.uint8),
        [0, 1],
        ("a", "b"),
        "c",
    )
    return [
        Case(
            group,
            "Dataset float images",
            dataset(train_images=images.astype(float)),
            names=("train_images", "uint8"),
        ),
        Case(
            group,
            "Dataset 3-D images",
            dataset(test_images=images[..., 0]),
            names=("test_images", "(N, H, W, C)"),
        ),
        Case(
            group,
            "Dataset splits of other sizes",
            dataset(test_images=images[:, :6]),
            names=("test images have shape", "resize"),
        ),
        Case(
            group,
            "Dataset label 2 of 2 classes",
            dataset(train_labels=[0, 2]),
            names=("train labels", "[0, 2)"),
        ),
        Case(
            group,
            "Dataset float labels",
            dataset(train_labels=[0.0, 1.0]),
            names=("train_labels", "integer"),
        ),
        Case(
            group,
            "Dataset 3 labels for 2 images",
            dataset(test_labels=[0, 1, 1]),
            names=("test labels",),
        ),
        Case(
            group,
            "to_float int16",
            lambda: to_float(images.astype(np.int16)),
            names=("uint8 or floating point",),
        ),
        Case(
            group,
            "mean_image of none",
            lambda: mean_image(images[:0]),
            names=("empty",),
        ),
        Case(
            group,
            "center_crop larger than images",
            lambda: center_crop(images, 9),
            names=("crop size 9x9",),
        ),
        Case(
            group,
            "center_crop 2.5",
            lambda: center_crop(images, 2.5),
            names=("crop size",),
        ),
        Case(
            group,
            "test_data with a mean of another shape",
            lambda: task.test_data(cifar_like, np.zeros((20, 20, 3))),
            names=("mean image has shape (20, 20, 3)",),
        ),
        Case(
            group,
            "test_data with the stored mean",
            lambda: task.test_data(cifar_like, np.full((24, 24, 3), 0.5)),
            check=lambda r: np.allclose(r[0], -0.5),
        ),
        Case(
            group,
            "load_pretrained(['cifar10'])",
            lambda: load_pretrained(["cifar10"]),
            names=("name must be a string",),
        ),
        Case(
            group,
            "load_pretrained('imagenet')",
            lambda: load_pretrained("imagenet"),
            names=("'imagenet'", "cifar10"),
        ),
    ]


SWEEPS = [
    mnist_cases,
    cifar_cases,
    folder_cases,
    cache_cases,
    checkpoint_cases,
    preprocessing_cases,
    evaluate_cases,
    train_cases,
    config_cases,
    other_api_cases,
]


def all_cases(tmp):
    return [case for sweep in SWEEPS for case in sweep(Path(tmp))]


def _ids():
    """Case names without building anything heavy (the cases are lazy)."""
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        return [f"{c.group}: {c.name}" for c in all_cases(tmp)]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sweep")


@pytest.mark.parametrize("index", range(len(_ids())), ids=_ids())
def test_input_sweep(sweep_dir, index):
    case = all_cases(sweep_dir)[index]
    result, detail = outcome(case)
    assert result in (CLEAR, CORRECT), f"{case.group}: {case.name}: {result}: {detail}"


def table(tmp):
    """Markdown table: cases and outcomes per group, then the failing cases."""
    rows, failures = {}, []
    for case in all_cases(tmp):
        result, detail = outcome(case)
        counts = rows.setdefault(
            case.group,
            dict.fromkeys((CLEAR, CORRECT, SILENT, WRONG, UNCLEAR, TRACEBACK), 0),
        )
        counts[result] += 1
        if result not in (CLEAR, CORRECT):
            failures.append(f"- {case.group}: {case.name}: {result}: {detail}")
    header = ["group", "cases", CLEAR, CORRECT, SILENT, WRONG, UNCLEAR, TRACEBACK]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = [0] * (len(header) - 1)
    for group, counts in rows.items():
        values = [sum(counts.values()), *counts.values()]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        lines.append("| " + " | ".join([group, *map(str, values)]) + " |")
    lines.append("| " + " | ".join(["**all**", *map(str, totals)]) + " |")
    return "\n".join(lines + [""] + failures)


if __name__ == "__main__":
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import warnings

    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        print(table(tmp))
