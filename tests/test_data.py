"""Tests for nengo_softlif.data (small files written by the tests; no network)."""

import bz2
import dataclasses
import gzip
import hashlib
import io
import lzma
import os
import pickle
import tarfile

import numpy as np
import pytest

from nengo_softlif import data
from nengo_softlif.data import DataError, Dataset, fetch, image_folder

PIL_Image = pytest.importorskip("PIL.Image")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #

_IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array):
    array = np.asarray(array)
    header = bytes([0, 0, _IDX_CODES[array.dtype], array.ndim])
    header += np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


_COMPRESSORS = {
    False: lambda payload: payload,
    True: gzip.compress,
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def write_idx(path, array, compress=False):
    path.write_bytes(_COMPRESSORS[compress](idx_bytes(array)))
    return path


def write_mnist(folder, n_train=5, n_test=3, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    suffix = {False: "", True: ".gz", "gzip": ".gz", "bz2": ".bz2", "xz": ".xz"}
    for name, array in arrays.items():
        write_idx(folder / (name + suffix[compress]), array, compress)
    return arrays


def write_cifar_batches(folder, per_batch=2, seed=0, protocol=2):
    """Write the official CIFAR-10 python format (tiny). Returns the raw rows."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        flat = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": flat,
            b"filenames": [f"img{i}.png".encode() for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        rows[name] = (flat, labels)
    meta = {
        b"num_cases_per_batch": per_batch,
        b"label_names": [c.encode() for c in data.CIFAR10_CLASSES],
        b"num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return rows


def make_tar(tar_path, folder, arcname):
    with tarfile.open(tar_path, "w:gz") as tf:
        tf.add(folder, arcname=arcname)
    return tar_path


def encode(image, fmt):
    buf = io.BytesIO()
    PIL_Image.fromarray(image).save(buf, format=fmt)
    return buf.getvalue()


def write_tree(root, classes, per_class=2, size=(8, 6), fmt="PNG", seed=0):
    """Write train/<class>/NNNN.<ext> and test/<class>/... with random images.

    Returns {(split, class, index): image array}.
    """
    rng = np.random.default_rng(seed)
    ext = {"PNG": "png", "JPEG": "jpg"}[fmt]
    images = {}
    for split in ("train", "test"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                if fmt == "JPEG":  # smooth images survive JPEG compression
                    image = np.full(size + (3,), rng.integers(30, 220, 3), np.uint8)
                else:
                    image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
                (root / split / cls / f"{i:04d}.{ext}").write_bytes(encode(image, fmt))
                images[split, cls, i] = image
    (root / "README.md").write_text("not an image")
    (root / "train" / classes[0] / ".hidden.png").write_bytes(b"ignored")
    return images


# --------------------------------------------------------------------------- #
# IDX
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("compress", [False, "gzip", "bz2", "xz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float64])
def test_read_idx_roundtrip(tmp_path, compress, dtype):
    array = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a-idx3", array, compress)
    out = data.read_idx(path)
    assert out.dtype == np.dtype(dtype)  # native byte order
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 1  # writable


def test_read_idx_detects_gzip_by_magic(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz_named_raw = write_idx(tmp_path / "labels-idx1-ubyte", array, compress=True)
    raw_named_gz = write_idx(tmp_path / "labels-idx1-ubyte.gz", array)
    np.testing.assert_array_equal(data.read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(data.read_idx(raw_named_gz), array)


@pytest.mark.parametrize("compress", [False, "gzip", "bz2", "xz"])
def test_read_idx_truncated(tmp_path, compress):
    payload = _COMPRESSORS[compress](idx_bytes(np.arange(1000, dtype=np.int32)))
    path = tmp_path / "truncated-idx1-ubyte"
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataError, match="truncated") as excinfo:
        data.read_idx(path)
    assert str(path) in str(excinfo.value)
    assert "re-download" in str(excinfo.value)


def test_read_idx_truncated_header(tmp_path):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((2, 2, 2), np.uint8))[:9])
    with pytest.raises(DataError, match="header") as excinfo:
        data.read_idx(path)
    assert str(path) in str(excinfo.value)


def test_read_idx_bad_magic(tmp_path):
    path = tmp_path / "notidx"
    path.write_bytes(b"\x01\x02\x08\x01" + bytes(20))
    with pytest.raises(DataError, match="magic") as excinfo:
        data.read_idx(path)
    assert str(path) in str(excinfo.value)
    bad_type = tmp_path / "badtype"
    bad_type.write_bytes(b"\x00\x00\x07\x01" + bytes(8))
    with pytest.raises(DataError, match="magic"):
        data.read_idx(bad_type)


def test_read_idx_trailing_bytes_and_missing(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"xx")
    with pytest.raises(DataError, match="unexpected bytes"):
        data.read_idx(path)
    with pytest.raises(DataError, match="does not exist"):
        data.read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- #
# MNIST
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("compress", [True, False, "bz2", "xz"])
def test_load_mnist(tmp_path, compress):
    arrays = write_mnist(tmp_path / "mnist", compress=compress)
    for data_dir in (tmp_path / "mnist", tmp_path):  # folder itself, or parent
        ds = data.load_mnist(data_dir)
        assert ds.name == "mnist"
        assert ds.classes == tuple("0123456789")
        assert ds.train_images.shape == (5, 28, 28, 1)
        assert ds.test_images.shape == (3, 28, 28, 1)
        assert ds.image_shape == (28, 28, 1)
        assert ds.train_images.dtype == np.uint8
        assert ds.train_labels.dtype == np.int64
        np.testing.assert_array_equal(
            ds.train_images[..., 0], arrays["train-images-idx3-ubyte"]
        )
        np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_load_mnist_missing_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as excinfo:
        data.load_mnist(tmp_path)
    assert "--data-dir" in str(excinfo.value)
    with pytest.raises(DataError, match="does not exist"):
        data.load_mnist(tmp_path / "missing")


def test_load_mnist_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8), True)
    with pytest.raises(DataError, match="5 images but") as excinfo:
        data.load_mnist(tmp_path)
    assert "train-labels-idx1-ubyte.gz" in str(excinfo.value)


# --------------------------------------------------------------------------- #
# CIFAR-10 python batches
# --------------------------------------------------------------------------- #


def check_cifar_batches(ds, rows):
    assert ds.name == "cifar10"
    assert ds.classes == data.CIFAR10_CLASSES
    assert ds.train_images.shape == (10, 32, 32, 3)
    assert ds.test_images.shape == (2, 32, 32, 3)
    # official order: data_batch_1 .. data_batch_5
    expected_labels = sum((rows[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    np.testing.assert_array_equal(ds.train_labels, expected_labels)
    np.testing.assert_array_equal(ds.test_labels, rows["test_batch"][1])
    # pixel layout: row = 1024 red, 1024 green, 1024 blue values, each row-major
    flat = rows["data_batch_2"][0][1]  # second image of batch 2 = train image 3
    image = ds.train_images[3]
    for h, w, c in [(0, 0, 0), (1, 2, 0), (3, 4, 1), (31, 30, 2), (17, 5, 2)]:
        assert image[h, w, c] == flat[c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(
        ds.test_images[0],
        rows["test_batch"][0][0].reshape(3, 32, 32).transpose(1, 2, 0),
    )


def test_cifar10_python_batches_layout(tmp_path):
    rows = write_cifar_batches(tmp_path / "cifar-10-batches-py")
    # a known pixel at a known place
    flat = rows["data_batch_1"][0]
    flat[0, 0 * 1024 + 5 * 32 + 7] = 201  # red at (h=5, w=7)
    flat[0, 1 * 1024 + 30 * 32 + 1] = 202  # green at (h=30, w=1)
    flat[0, 2 * 1024 + 0 * 32 + 31] = 203  # blue at (h=0, w=31)
    batch = {b"data": flat, b"labels": rows["data_batch_1"][1]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(
        pickle.dumps(batch, protocol=2)
    )
    for data_dir in (tmp_path / "cifar-10-batches-py", tmp_path):
        ds = data.load_cifar10(data_dir)
        check_cifar_batches(ds, rows)
        assert ds.train_images[0, 5, 7, 0] == 201
        assert ds.train_images[0, 30, 1, 1] == 202
        assert ds.train_images[0, 0, 31, 2] == 203


def test_cifar10_python_tarball(tmp_path):
    rows = write_cifar_batches(tmp_path / "src" / "cifar-10-batches-py", protocol=4)
    tar = make_tar(
        tmp_path / "cifar-10-python.tar.gz",
        tmp_path / "src" / "cifar-10-batches-py",
        "cifar-10-batches-py",
    )
    check_cifar_batches(data.load_cifar10(tar), rows)  # the archive itself
    (tmp_path / "parent" / "cifar10").mkdir(parents=True)
    os.replace(tar, tmp_path / "parent" / "cifar10" / tar.name)
    check_cifar_batches(data.load_cifar10(tmp_path / "parent"), rows)


def test_cifar10_missing_batch_and_bad_pickle(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_batches(folder)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        data.load_cifar10(folder)
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(DataError, match="data_batch_3"):
        data.load_cifar10(folder)
    # a pickle that would run code is refused
    (folder / "data_batch_3").write_bytes(pickle.dumps(os.getcwd, protocol=2))
    with pytest.raises(DataError, match="refusing"):
        data.load_cifar10(folder)


def test_cifar10_nothing_found(tmp_path):
    with pytest.raises(DataError, match="no CIFAR-10 data found") as excinfo:
        data.load_cifar10(tmp_path)
    assert str(tmp_path) in str(excinfo.value)


# --------------------------------------------------------------------------- #
# image folders
# --------------------------------------------------------------------------- #


def test_image_folder_png(tmp_path):
    images = write_tree(tmp_path / "tree", ["zebra", "ant", "cow"], per_class=2)
    ds = data.load_image_folder(tmp_path / "tree", order="sorted")
    assert ds.name == "tree"
    assert ds.classes == ("ant", "cow", "zebra")  # sorted folder names
    assert ds.train_images.shape == (6, 8, 6, 3)
    assert ds.train_images.dtype == np.uint8
    np.testing.assert_array_equal(ds.train_labels, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(ds.train_images[0], images["train", "ant", 0])
    np.testing.assert_array_equal(ds.test_images[5], images["test", "zebra", 1])

    # default order interleaves classes, so that subsets are balanced
    ds = data.load_image_folder(tmp_path / "tree", classes=["cow", "ant", "zebra"])
    np.testing.assert_array_equal(ds.train_labels, [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(ds.train_images[4], images["train", "ant", 1])
    assert sorted(ds.subset(n_train=3).train_labels) == [0, 1, 2]


def test_image_folder_grayscale_and_resize(tmp_path):
    root = tmp_path / "gray"
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (root / split / cls).mkdir(parents=True)
            image = np.full((5, 4), 10 if cls == "a" else 200, np.uint8)
            PIL_Image.fromarray(image, mode="L").save(root / split / cls / "x.png")
    ds = data.load_image_folder(root)
    assert ds.image_shape == (5, 4, 1)
    assert ds.train_images[ds.train_labels == 1].min() == 200

    # different sizes: error naming the file, unless image_size is given
    PIL_Image.fromarray(np.zeros((7, 7), np.uint8)).save(root / "test" / "a" / "y.png")
    with pytest.raises(DataError, match="y.png.*image_size"):
        data.load_image_folder(root)
    ds = data.load_image_folder(root, image_size=6)
    assert ds.image_shape == (6, 6, 1)
    assert ds.test_images.shape == (3, 6, 6, 1)


def test_image_folder_jpeg_and_tarball(tmp_path):
    images = write_tree(tmp_path / "tree", ["b", "a"], per_class=3, fmt="JPEG")
    ds = data.load_image_folder(tmp_path / "tree", order="sorted")
    assert ds.classes == ("a", "b")
    assert ds.train_images.shape == (6, 8, 6, 3)
    diff = ds.train_images[3].astype(int) - images["train", "b", 0]
    assert np.abs(diff).max() <= 3  # JPEG is lossy

    tar = make_tar(tmp_path / "tree-jpeg.tar.gz", tmp_path / "tree", "toplevel")
    ds_tar = data.load_image_folder(tar, order="sorted")
    assert ds_tar.name == "tree-jpeg"
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(ds_tar, field), getattr(ds, field))


@pytest.mark.parametrize("mode,suffix", [("w", ".tar"), ("w:bz2", ".tar.bz2")])
def test_image_folder_other_tar_compressions(tmp_path, mode, suffix):
    images = write_tree(tmp_path / "tree", ["a", "b"], per_class=1)
    tar = tmp_path / ("archive" + suffix)
    with tarfile.open(tar, mode) as tf:
        tf.add(tmp_path / "tree", arcname=".")  # members named ./train/...
    ds = data.load_image_folder(tar)
    assert ds.name == "archive"
    np.testing.assert_array_equal(ds.test_images[1], images["test", "b", 0])


def test_image_modes(tmp_path):
    root = tmp_path / "modes"
    rgb = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    for split in ("train", "test"):
        for cls in ("gray", "palette", "rgba"):
            (root / split / cls).mkdir(parents=True)
        PIL_Image.fromarray(rgb[..., 0], mode="L").save(root / split / "gray/0.png")
        PIL_Image.fromarray(rgb).convert("P").save(root / split / "palette/0.png")
        PIL_Image.fromarray(rgb).convert("RGBA").save(root / split / "rgba/0.png")
    ds = data.load_image_folder(root, order="sorted")
    assert ds.image_shape == (4, 4, 3)  # mixed: grayscale repeated over RGB
    np.testing.assert_array_equal(ds.train_images[0], np.repeat(rgb[..., :1], 3, -1))
    np.testing.assert_array_equal(ds.train_images[2], rgb)


def test_cifar10_image_folder_class_order(tmp_path):
    classes = list(data.CIFAR10_CLASSES)
    images = write_tree(tmp_path / "cifar10", classes[::-1], per_class=1, size=(4, 4))
    for source in (tmp_path, tmp_path / "cifar10"):
        ds = data.load_cifar10(source)
        assert ds.classes == data.CIFAR10_CLASSES
        np.testing.assert_array_equal(ds.train_labels, np.arange(10))
        np.testing.assert_array_equal(ds.train_images[9], images["train", "truck", 0])
    make_tar(tmp_path / "cifar10-jpeg.tar.gz", tmp_path / "cifar10", "cifar10-jpeg")
    ds = data.load_cifar10(tmp_path / "cifar10-jpeg.tar.gz")
    np.testing.assert_array_equal(ds.test_images[1], images["test", "automobile", 0])

    (tmp_path / "cifar10" / "train" / "unicorn").mkdir()
    PIL_Image.new("RGB", (4, 4)).save(tmp_path / "cifar10" / "train/unicorn/0.png")
    with pytest.raises(DataError, match="unicorn"):
        data.load_cifar10(tmp_path / "cifar10")


def test_corrupt_image(tmp_path):
    write_tree(tmp_path / "tree", ["a", "b"], per_class=1)
    bad = tmp_path / "tree" / "train" / "b" / "0000.png"
    bad.write_bytes(bad.read_bytes()[:30])  # truncated PNG
    with pytest.raises(DataError, match="0000.png") as excinfo:
        data.load_image_folder(tmp_path / "tree")
    assert str(bad) in str(excinfo.value)
    tar = make_tar(tmp_path / "t.tar.gz", tmp_path / "tree", "top")
    with pytest.raises(DataError, match="top/train/b/0000.png"):
        data.load_image_folder(tar)


def test_truncated_tarball(tmp_path):
    write_tree(tmp_path / "tree", ["a", "b"], per_class=4, size=(16, 16))
    tar = make_tar(tmp_path / "t.tar.gz", tmp_path / "tree", "top")
    payload = tar.read_bytes()
    for cut in (len(payload) // 2, len(payload) - 10):
        cut_tar = tmp_path / f"cut{cut}.tar.gz"
        cut_tar.write_bytes(payload[:cut])
        with pytest.raises(DataError, match="truncated or corrupt") as excinfo:
            data.load_image_folder(cut_tar)
        assert str(cut_tar) in str(excinfo.value)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data.load_image_folder(tmp_path / "missing")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir()
    with pytest.raises(DataError, match="no train or test images"):
        data.load_image_folder(tmp_path / "empty")


def test_cache_reuse(tmp_path, monkeypatch):
    write_tree(tmp_path / "src", list(data.CIFAR10_CLASSES), per_class=1)
    tar = make_tar(tmp_path / "cifar10-jpeg.tar.gz", tmp_path / "src", "x")
    cache = tmp_path / "cache"
    first = data.load_cifar10(tar, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary files left

    def fail(*args, **kwargs):
        raise AssertionError("image decoded although the cache should be used")

    monkeypatch.setattr(image_folder, "_decode_image", fail)
    second = data.load_cifar10(tmp_path, cache_dir=cache)  # same source, via parent
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(second, field), getattr(first, field))
    assert second.classes == first.classes and second.name == first.name

    # a touched but unchanged source is still served from the cache
    original, mtime_ns = tar.read_bytes(), tar.stat().st_mtime_ns
    os.utime(tar, ns=(mtime_ns, mtime_ns + 10**9))
    data.load_cifar10(tar, cache_dir=cache)
    # a changed source is not served from the stale cache, even with its old
    # modification time
    write_tree(tmp_path / "other", list(data.CIFAR10_CLASSES), per_class=1, seed=1)
    tar.write_bytes(
        make_tar(tmp_path / "other.tar.gz", tmp_path / "other", "x").read_bytes()
    )
    os.utime(tar, ns=(mtime_ns, mtime_ns))
    with pytest.raises(AssertionError, match="decoded"):
        data.load_cifar10(tar, cache_dir=cache)
    monkeypatch.undo()

    # a damaged cache file is rebuilt, not fatal
    tar.write_bytes(original)
    files[0].write_bytes(b"not a zip file")
    third = data.load_cifar10(tar, cache_dir=cache)
    np.testing.assert_array_equal(third.train_images, first.train_images)
    with np.load(files[0]) as z:  # valid again
        np.testing.assert_array_equal(z["train_images"], first.train_images)

    # folder sources are cached too
    folder_ds = data.load_image_folder(tmp_path / "src", cache_dir=cache)
    assert len(list(cache.glob("imagefolder-*.npz"))) == 1
    monkeypatch.setattr(image_folder, "_decode_image", fail)
    again = data.load_image_folder(tmp_path / "src", cache_dir=cache)
    np.testing.assert_array_equal(again.test_images, folder_ds.test_images)
    assert not list(cache.glob(".*"))  # no temporary files


# --------------------------------------------------------------------------- #
# embedded sample, load_dataset, Dataset
# --------------------------------------------------------------------------- #


def test_load_embedded_mnist():
    ds = data.load_embedded_mnist()
    assert ds.name == "mnist-sample"
    assert ds.train_images.shape == (3000, 28, 28, 1)
    assert ds.test_images.shape == (1000, 28, 28, 1)
    assert ds.train_images.dtype == np.uint8 and ds.train_labels.dtype == np.int64
    assert set(np.unique(ds.train_labels)) == set(range(10))
    assert set(np.unique(ds.test_labels)) == set(range(10))
    assert ds.train_labels[0] == 5 and ds.test_labels[0] == 7  # as in MNIST
    assert 0.1 < data.to_float(ds.train_images).mean() < 0.16


def test_load_dataset(tmp_path):
    assert data.load_dataset("mnist-sample").name == "mnist-sample"
    assert data.load_dataset("MNIST_sample").train_images.shape[0] == 3000
    with pytest.raises(ValueError, match="mnist, cifar10, mnist-sample"):
        data.load_dataset("imagenet")
    for name in ("mnist", "cifar10"):
        with pytest.raises(DataError, match="--data-dir"):
            data.load_dataset(name)
    write_mnist(tmp_path / "mnist")
    assert data.load_dataset("mnist", tmp_path).train_images.shape == (5, 28, 28, 1)
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    ds = data.load_dataset("cifar-10", tmp_path, cache_dir=tmp_path / "cache")
    assert ds.image_shape == (32, 32, 3)


def test_dataset_subset_and_validation():
    images = np.zeros((4, 2, 2, 1), np.uint8)
    ds = Dataset(images, np.arange(4) % 2, images[:3], [0, 1, 1], ["x", "y"], "toy")
    assert ds.train_labels.dtype == np.int64 and ds.classes == ("x", "y")
    assert ds.image_shape == (2, 2, 1) and ds.num_classes == 2
    sub = ds.subset(n_train=2)
    assert sub.train_images.shape == (2, 2, 2, 1) and sub.test_images.shape[0] == 3
    assert ds.subset(n_test=0).test_labels.shape == (0,)
    assert "toy" in repr(ds)
    with pytest.raises(ValueError, match="larger"):
        ds.subset(n_train=5)
    with pytest.raises(TypeError, match="uint8"):
        Dataset(images.astype(float), np.zeros(4), images, np.zeros(4), ["x"], "t")
    with pytest.raises(ValueError, match="labels"):
        Dataset(images, np.zeros(3, int), images, np.zeros(4, int), ["x"], "t")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dataset(images, np.ones(4, int), images, np.zeros(4, int), ["x"], "t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


# --------------------------------------------------------------------------- #
# preprocessing
# --------------------------------------------------------------------------- #


def test_to_float_and_mean_image():
    images = np.array([0, 255, 51], np.uint8).reshape(3, 1, 1, 1)
    out = data.to_float(images)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.ravel(), [0, 1, 0.2])
    mean = data.mean_image(images)
    assert mean.dtype == np.float32 and mean.shape == (1, 1, 1)
    np.testing.assert_allclose(mean, 102 / 255, rtol=1e-6)
    np.testing.assert_allclose(data.mean_image(out), 102 / 255, rtol=1e-6)
    with pytest.raises(TypeError):
        data.to_float(np.zeros(3, np.int32))


def test_center_crop():
    images = np.arange(2 * 5 * 6 * 1, dtype=np.uint8).reshape(2, 5, 6, 1)
    out = data.center_crop(images, 3)
    assert out.shape == (2, 3, 3, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out * 255, images[:, 1:4, 1:4], rtol=1e-6)
    out = data.center_crop(images, (4, 2))
    np.testing.assert_allclose(out * 255, images[:, 0:4, 2:4], rtol=1e-6)
    with pytest.raises(ValueError, match="larger than the images"):
        data.center_crop(images, 6)


def test_random_crop_flip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 8, 9, 3), dtype=np.uint8)
    out = data.random_crop_flip(images, 5, np.random.default_rng(1))
    assert out.shape == (64, 5, 5, 3) and out.dtype == np.float32
    again = data.random_crop_flip(images, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(out, again)  # deterministic given the seed
    other = data.random_crop_flip(images, 5, np.random.default_rng(2))
    assert not np.array_equal(out, other)

    # every output is a crop of its input, flipped or not; both occur, and
    # several crop positions occur
    n_flipped, positions = 0, set()
    crops = np.rint(out * 255).astype(np.uint8)
    for image, crop in ((images[i], crops[i]) for i in range(len(images))):
        matches = [
            (y, x, f)
            for y in range(4)
            for x in range(5)
            for f in (False, True)
            if np.array_equal(
                (
                    image[y : y + 5, x : x + 5][:, ::-1]
                    if f
                    else image[y : y + 5, x : x + 5]
                ),
                crop,
            )
        ]
        assert len(matches) == 1
        n_flipped += matches[0][2]
        positions.add(matches[0][:2])
    assert 10 < n_flipped < 54
    assert len(positions) > 5

    # flips only (full size) and no flips
    full = data.random_crop_flip(images, None, 3)
    flipped = np.array(
        [np.array_equal(full[i] * 255, images[i, :, ::-1]) for i in range(64)]
    )
    kept = np.array([np.array_equal(full[i] * 255, images[i]) for i in range(64)])
    assert np.all(flipped != kept) and 0 < flipped.sum() < 64
    no_flip = data.random_crop_flip(images, (8, 9), np.random.RandomState(0), False)
    np.testing.assert_allclose(no_flip * 255, images, rtol=1e-6)

    with pytest.raises(ValueError, match="larger than the images"):
        data.random_crop_flip(images, 9, rng)
    with pytest.raises(ValueError, match="larger than the images"):
        data.random_crop_flip(images, (8, 10), rng)


# --------------------------------------------------------------------------- #
# download
# --------------------------------------------------------------------------- #


def test_download(tmp_path):
    src = tmp_path / "src" / "payload.bin"
    src.parent.mkdir()
    src.write_bytes(b"some bytes" * 1000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    url = src.as_uri()
    dest_dir = tmp_path / "cache"

    path = data.download(url, dest_dir, md5)
    assert path == dest_dir / "payload.bin"
    assert path.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dest_dir.iterdir()) == ["payload.bin"]

    # already present with the right md5: nothing is downloaded
    src.unlink()
    assert data.download(url, dest_dir, md5.upper()) == path

    # wrong md5: error, and neither a final nor a temporary file is left
    src.write_bytes(b"other bytes")
    with pytest.raises(DataError, match="MD5") as excinfo:
        data.download(url, dest_dir, "0" * 32, filename="other.bin")
    assert "other.bin" in str(excinfo.value)
    assert sorted(p.name for p in dest_dir.iterdir()) == ["payload.bin"]

    # an existing file with the wrong content is replaced
    path.write_bytes(b"damaged")
    src.write_bytes(b"some bytes" * 1000)
    assert data.download(url, dest_dir, md5).read_bytes() == src.read_bytes()

    # unreachable source
    with pytest.raises(DataError, match="could not download"):
        data.download((tmp_path / "missing.bin").as_uri(), dest_dir, md5)
    assert sorted(p.name for p in dest_dir.iterdir()) == ["payload.bin"]


def test_known_sources_and_fetch(tmp_path, monkeypatch):
    names = [n for n, s in data.KNOWN_SOURCES.items() if s["dataset"] == "mnist"]
    assert sorted(names) == sorted(
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
    )
    for name, source in data.KNOWN_SOURCES.items():
        assert source["url"].startswith("https://") and source["url"].endswith(name)
        assert len(source["md5"]) == 32
    calls = []
    monkeypatch.setattr(fetch, "download", lambda *args, **kw: calls.append((args, kw)))
    assert data.fetch_mnist(tmp_path) == tmp_path / "mnist"
    assert data.fetch_cifar10(tmp_path) == tmp_path / "cifar10"
    urls = [args[0] for args, _ in calls]
    assert len(urls) == 5 and all(u.startswith("https://") for u in urls)
    assert urls[-1] == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def test_cutout_zeroes_one_square_per_image():
    from nengo_softlif.data.preprocess import cutout  # noqa: PLC0415

    images = np.ones((200, 10, 12, 3), dtype=np.float32)
    out = cutout(images, 4, np.random.default_rng(0))
    assert np.all(images == 1), "the input is not changed"
    zeros = (out == 0).all(axis=-1).sum(axis=(1, 2))  # whole pixels zeroed
    assert zeros.max() == 16 and zeros.min() >= 4  # clipped at the borders
    assert ((out == 0) == (out[..., :1] == 0)).all()  # every channel of a pixel
    for image in out[:20]:  # one square: its zero pixels span <= 4 rows and columns
        rows, cols = np.nonzero(image[..., 0] == 0)
        assert np.ptp(rows) < 4 and np.ptp(cols) < 4
    assert np.array_equal(cutout(images, 0, np.random.default_rng(0)), images)
