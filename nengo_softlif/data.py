"""Loading and preprocessing of image-classification data sets.

This module reads the usual on-disk formats of the data sets used with
``nengo_softlif`` and returns them as a :class:`Dataset` of ``uint8`` images
(channels last) and ``int64`` labels:

* MNIST as IDX files (raw or gzip-compressed): :func:`load_mnist`.
* CIFAR-10 as the official pickled "python" batches (folder or
  ``cifar-10-python.tar.gz``), or as an image-folder tree
  ``train/<class>/*.jpg``, ``test/<class>/*.jpg`` (folder or ``.tar.gz``):
  :func:`load_cifar10`.
* Any image-folder tree: :func:`load_image_folder`.
* A small real MNIST sample shipped with the package (no data needed):
  :func:`load_embedded_mnist`.

:func:`load_dataset` dispatches on a data set name. Preprocessing helpers
(:func:`to_float`, :func:`mean_image`, :func:`center_crop`,
:func:`random_crop_flip`) work on numpy arrays, and :func:`download`,
:func:`fetch_mnist` and :func:`fetch_cifar10` fetch the canonical files
(with MD5 verification) for machines that have network access.

Problems with data files (missing, truncated, corrupt) raise
:class:`DataError`, whose message names the file and says how to fix it.

Only numpy and the standard library are imported at module level; Pillow is
imported lazily, when image files are decoded.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import importlib.resources
import io
import json
import logging
import os
import pickle
import posixpath
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from nengo_softlif.atomic import atomic_open

logger = logging.getLogger(__name__)

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "DataError",
    "Dataset",
    "KNOWN_SOURCES",
    "MNIST_CLASSES",
    "center_crop",
    "download",
    "fetch_cifar10",
    "fetch_mnist",
    "load_cifar10",
    "load_dataset",
    "load_embedded_mnist",
    "load_image_folder",
    "load_mnist",
    "mean_image",
    "random_crop_flip",
    "read_idx",
    "to_float",
]

#: Class names of MNIST, in label order.
MNIST_CLASSES = tuple(str(i) for i in range(10))

#: Class names of CIFAR-10, in label order (as in ``batches.meta``).
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: Names accepted by :func:`load_dataset`.
DATASET_NAMES = ("mnist", "cifar10", "mnist-sample")

_MNIST_BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

#: Canonical download locations and MD5 sums of the compressed files, keyed by
#: file name. Each value is a dict with keys ``"url"``, ``"md5"`` and
#: ``"dataset"``.
KNOWN_SOURCES = {
    "train-images-idx3-ubyte.gz": {
        "url": _MNIST_BASE_URL + "train-images-idx3-ubyte.gz",
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "dataset": "mnist",
    },
    "train-labels-idx1-ubyte.gz": {
        "url": _MNIST_BASE_URL + "train-labels-idx1-ubyte.gz",
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "dataset": "mnist",
    },
    "t10k-images-idx3-ubyte.gz": {
        "url": _MNIST_BASE_URL + "t10k-images-idx3-ubyte.gz",
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "dataset": "mnist",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "url": _MNIST_BASE_URL + "t10k-labels-idx1-ubyte.gz",
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "dataset": "mnist",
    },
    "cifar-10-python.tar.gz": {
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
        "dataset": "cifar10",
    },
}

_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"

_IMAGE_EXTENSIONS = frozenset(
    {
        ".bmp",
        ".gif",
        ".jpeg",
        ".jpg",
        ".pbm",
        ".pgm",
        ".png",
        ".ppm",
        ".tif",
        ".tiff",
        ".webp",
    }
)

_SKIP = ("", ".")  # empty and "." components of archive member names

_TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")

_CIFAR_BATCH_NAMES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_FILES = frozenset(_CIFAR_BATCH_NAMES + ("test_batch", "batches.meta"))

_CACHE_VERSION = 1


_DATA_DIR_HINT = "pass data_dir (--data-dir on the command line)"


class DataError(ValueError):
    """A data file is missing, truncated or corrupt.

    The message names the file concerned and says how to fix the problem.
    """


# --------------------------------------------------------------------------- #
# Dataset container
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """An image-classification data set split into training and test sets.

    Parameters
    ----------
    train_images : ndarray of uint8, shape (N, H, W, C)
        Training images, channels last.
    train_labels : ndarray of int64, shape (N,)
        Training labels, integers in ``range(len(classes))``. Any integer
        dtype is accepted and converted to int64.
    test_images : ndarray of uint8, shape (M, H, W, C)
        Test images; same image shape as ``train_images``.
    test_labels : ndarray of int64, shape (M,)
        Test labels.
    classes : tuple of str
        Class names; ``classes[k]`` is the name of label ``k``.
    name : str
        Name of the data set (e.g. ``"mnist"``).

    Raises
    ------
    TypeError
        If the images are not uint8 or the labels are not integers.
    ValueError
        If shapes do not agree or labels are out of range.

    Notes
    -----
    Instances are frozen (fields cannot be reassigned), but the arrays
    themselves are ordinary numpy arrays; :meth:`subset` returns views of them.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple
    name: str

    def __post_init__(self):
        classes = tuple(str(c) for c in self.classes)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "name", str(self.name))
        shape = None
        for split in ("train", "test"):
            images = np.asarray(getattr(self, f"{split}_images"))
            labels = np.asarray(getattr(self, f"{split}_labels"))
            if images.dtype != np.uint8:
                raise TypeError(
                    f"Dataset {self.name!r}: {split}_images must be uint8, got "
                    f"{images.dtype} (convert to float only when preprocessing, "
                    "e.g. with to_float)"
                )
            if images.ndim != 4:
                raise ValueError(
                    f"Dataset {self.name!r}: {split}_images must have shape "
                    f"(N, H, W, C), got {images.shape}"
                )
            if shape is None:
                shape = images.shape[1:]
            elif images.shape[1:] != shape:
                raise ValueError(
                    f"Dataset {self.name!r}: test images have shape "
                    f"{images.shape[1:]} but training images have shape {shape}"
                )
            if labels.ndim != 1 or not (
                np.issubdtype(labels.dtype, np.integer) or labels.size == 0
            ):
                raise TypeError(
                    f"Dataset {self.name!r}: {split}_labels must be a 1-D integer "
                    f"array, got dtype {labels.dtype} and shape {labels.shape}"
                )
            if labels.shape[0] != images.shape[0]:
                raise ValueError(
                    f"Dataset {self.name!r}: {images.shape[0]} {split} images but "
                    f"{labels.shape[0]} {split} labels"
                )
            labels = labels.astype(np.int64, copy=False)
            if labels.size and (
                labels.min() < 0 or (classes and labels.max() >= len(classes))
            ):
                raise ValueError(
                    f"Dataset {self.name!r}: {split} labels must be in "
                    f"[0, {len(classes)}), got range "
                    f"[{labels.min()}, {labels.max()}]"
                )
            object.__setattr__(self, f"{split}_images", images)
            object.__setattr__(self, f"{split}_labels", labels)

    @property
    def image_shape(self):
        """tuple of int: Shape ``(H, W, C)`` of one image."""
        return tuple(self.train_images.shape[1:])

    @property
    def num_classes(self):
        """int: Number of classes."""
        return len(self.classes)

    def subset(self, n_train=None, n_test=None):
        """Return a data set with the first images of each split.

        Parameters
        ----------
        n_train : int or None
            Number of training images to keep (all if None).
        n_test : int or None
            Number of test images to keep (all if None).

        Returns
        -------
        Dataset
            A new data set whose arrays are views of this one's; ``classes``
            and ``name`` are unchanged.

        Raises
        ------
        ValueError
            If a count is negative or larger than the split.
        """

        def count(n, split):
            total = getattr(self, f"{split}_images").shape[0]
            if n is None:
                return total
            if int(n) != n or n < 0:
                raise ValueError(f"n_{split} must be a non-negative integer, got {n}")
            if n > total:
                raise ValueError(
                    f"n_{split}={n} is larger than the {split} set of "
                    f"{self.name!r}, which has {total} images"
                )
            return int(n)

        k_train = count(n_train, "train")
        k_test = count(n_test, "test")
        return Dataset(
            train_images=self.train_images[:k_train],
            train_labels=self.train_labels[:k_train],
            test_images=self.test_images[:k_test],
            test_labels=self.test_labels[:k_test],
            classes=self.classes,
            name=self.name,
        )

    def __repr__(self):
        return (
            f"Dataset(name={self.name!r}, train={self.train_images.shape}, "
            f"test={self.test_images.shape}, classes={len(self.classes)})"
        )


# --------------------------------------------------------------------------- #
# IDX / MNIST
# --------------------------------------------------------------------------- #


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def read_idx(path):
    """Read an IDX file, raw or gzip-compressed.

    Gzip compression is detected from the file's magic bytes, so the file
    name does not need to end in ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the IDX file.

    Returns
    -------
    ndarray
        Array with the shape given in the header and the IDX element type
        (uint8, int8, int16, int32, float32 or float64), in native byte order.

    Raises
    ------
    DataError
        If the file is missing, is not a valid IDX file (bad magic number,
        unknown type code, no dimensions) or its payload length does not
        match the header (for example a truncated download).
    """
    path = Path(path)
    fix = "re-download it (or re-extract it from its archive)"
    if not path.is_file():
        raise DataError(f"IDX file {path} does not exist; check the path or {fix}")
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"IDX file {path} could not be read ({type(e).__name__}: {e}); "
            f"it is probably truncated or corrupt: {fix}"
        ) from e

    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex() or '<empty>'}"
            "; expected 0000 followed by a type code 08, 09, 0b, 0c, 0d or 0e and "
            f"the number of dimensions); {fix}"
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    if ndim == 0:
        raise DataError(f"IDX file {path} declares 0 dimensions; {fix}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"IDX file {path} is truncated: it ends inside its header "
            f"({len(raw)} of {header} bytes); {fix}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual < expected:
        raise DataError(
            f"IDX file {path} is truncated: header says shape {shape} "
            f"({expected} bytes of data) but the file holds only {actual} bytes; "
            f"{fix}"
        )
    if actual > expected:
        raise DataError(
            f"IDX file {path} has {actual - expected} unexpected bytes after the "
            f"data declared in its header (shape {shape}); the file is corrupt: "
            f"{fix}"
        )
    array = np.frombuffer(raw, dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def _mnist_candidate_dirs(data_dir):
    return [
        data_dir,
        data_dir / "mnist",
        data_dir / "MNIST",
        data_dir / "MNIST" / "raw",
    ]


def _find_mnist_file(folder, stem):
    for name in (stem, stem + ".gz"):
        path = folder / name
        if path.is_file():
            return path
    # Some mirrors use e.g. "train-images.idx3-ubyte".
    alt = stem.replace("-idx", ".idx")
    for name in (alt, alt + ".gz"):
        path = folder / name
        if path.is_file():
            return path
    return None


def load_mnist(data_dir):
    """Load MNIST from the four standard IDX files.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or
        with a ``.gz`` suffix), or a parent of such a folder named ``mnist``
        (``MNIST/raw`` as written by torchvision also works).

    Returns
    -------
    Dataset
        60,000 training and 10,000 test images of shape (28, 28, 1), uint8;
        classes ``"0"`` to ``"9"``; name ``"mnist"``.

    Raises
    ------
    DataError
        If a file is missing, corrupt or truncated, or if counts or shapes
        of images and labels do not agree.
    """
    data_dir = _existing_dir(data_dir, "MNIST")
    folders = _mnist_candidate_dirs(data_dir)
    folder = next(
        (
            d
            for d in folders
            if d.is_dir() and any(_find_mnist_file(d, s) for s in _MNIST_FILES.values())
        ),
        data_dir,
    )
    paths = {key: _find_mnist_file(folder, stem) for key, stem in _MNIST_FILES.items()}
    missing = [_MNIST_FILES[key] for key, p in paths.items() if p is None]
    if missing:
        searched = ", ".join(str(d) for d in folders)
        raise DataError(
            f"MNIST file(s) {', '.join(m + '(.gz)' for m in missing)} not found in "
            f"{folder} (searched {searched}); download them (e.g. with "
            f"nengo_softlif.data.fetch_mnist), or {_DATA_DIR_HINT} pointing at a "
            "folder that holds train-images-idx3-ubyte(.gz), "
            "train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and "
            "t10k-labels-idx1-ubyte(.gz)"
        )

    arrays = {}
    for split in ("train", "test"):
        img_path = paths[f"{split}_images"]
        lab_path = paths[f"{split}_labels"]
        images = read_idx(img_path)
        labels = read_idx(lab_path)
        if images.dtype != np.uint8 or images.ndim != 3:
            raise DataError(
                f"{img_path} holds {images.dtype} data of shape {images.shape}; "
                "MNIST images must be uint8 of shape (N, 28, 28). Check that the "
                "file is the MNIST image file, or re-download it"
            )
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{lab_path} holds {labels.dtype} data of shape {labels.shape}; "
                "MNIST labels must be integers of shape (N,). Check that the file "
                "is the MNIST label file, or re-download it"
            )
        if images.shape[0] != labels.shape[0]:
            raise DataError(
                f"{img_path} holds {images.shape[0]} images but {lab_path} holds "
                f"{labels.shape[0]} labels; one of the files is from a different "
                "release or damaged: re-download both"
            )
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(
                f"{lab_path} holds labels outside 0-9 (range {labels.min()}-"
                f"{labels.max()}); re-download it"
            )
        arrays[f"{split}_images"] = images[..., None]
        arrays[f"{split}_labels"] = labels.astype(np.int64)
    return Dataset(**arrays, classes=MNIST_CLASSES, name="mnist")


def load_embedded_mnist():
    """Load the small MNIST sample shipped with the package.

    The sample holds the first 3,000 training and the first 1,000 test images
    of MNIST (see ``nengo_softlif/datasets/README.md`` for attribution). It
    needs no data files and no network, so it suits tests, examples and quick
    checks.

    Returns
    -------
    Dataset
        3,000 training and 1,000 test images of shape (28, 28, 1), uint8;
        classes ``"0"`` to ``"9"``; name ``"mnist-sample"``.

    Raises
    ------
    DataError
        If the packaged file is missing or damaged (reinstall the package).
    """
    filename = "mnist_sample.npz"
    try:
        if __package__:
            resource = importlib.resources.files(__package__ + ".datasets")
            resource = resource.joinpath(filename)
            where = str(resource)
            payload = resource.read_bytes()
        else:  # pragma: no cover - module loaded outside its package
            where = str(Path(__file__).parent / "datasets" / filename)
            payload = Path(where).read_bytes()
    except (OSError, ModuleNotFoundError) as e:
        raise DataError(
            f"the embedded MNIST sample nengo_softlif/datasets/{filename} could not "
            f"be read ({type(e).__name__}: {e}); reinstall nengo_softlif (the file "
            "is package data and must be installed with it)"
        ) from e
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            arrays = {
                key: z[key]
                for key in (
                    "train_images",
                    "train_labels",
                    "test_images",
                    "test_labels",
                )
            }
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise DataError(
            f"the embedded MNIST sample {where} is damaged ({type(e).__name__}: "
            f"{e}); reinstall nengo_softlif"
        ) from e
    for split in ("train", "test"):
        arrays[f"{split}_images"] = arrays[f"{split}_images"][..., None]
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].astype(np.int64)
    return Dataset(**arrays, classes=MNIST_CLASSES, name="mnist-sample")


# --------------------------------------------------------------------------- #
# Image decoding and image-folder trees
# --------------------------------------------------------------------------- #


def _normalize_image_size(image_size):
    if image_size is None:
        return None
    if np.isscalar(image_size):
        image_size = (image_size, image_size)
    size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) <= 0 or size != tuple(image_size):
        raise ValueError(
            f"image_size must be a positive int or (height, width), got {image_size}"
        )
    return size


def _bilinear(pil_image):  # Image.Resampling is new in Pillow 9.1
    return getattr(pil_image, "Resampling", pil_image).BILINEAR


def _decode_image(data, where, image_size=None):
    """Decode one encoded image to a uint8 array of shape (H, W) or (H, W, 3).

    ``where`` names the file or archive member in error messages.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            mode = im.mode
            if mode in ("L", "1", "LA", "La"):
                im = im.convert("L")
            elif mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
                raise DataError(
                    f"image {where} has mode {mode} (16-bit or floating point); only "
                    "8-bit grayscale and colour images are supported: convert it to "
                    "8-bit, or remove it from the data set"
                )
            elif mode != "RGB":
                im = im.convert("RGB")
            if image_size is not None and im.size != (image_size[1], image_size[0]):
                im = im.resize((image_size[1], image_size[0]), _bilinear(Image))
            # (faster than np.asarray(im), which goes through __array_interface__)
            width, height = im.size
            pixels = np.frombuffer(im.tobytes(), dtype=np.uint8)
            return pixels.reshape(
                (height, width) if im.mode == "L" else (height, width, 3)
            )
    except DataError:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        Image.DecompressionBombError,
    ) as e:
        raise DataError(
            f"image {where} could not be decoded ({type(e).__name__}: {e}); the "
            "file is corrupt or not an image: re-download the data set, or delete "
            "this file"
        ) from e


def _tree_position(parts):
    """Return (split, class, prefix) if a path is ``[prefix/]split/class/file``.

    Hidden files and files without an image extension give None.
    """
    if len(parts) < 3:
        return None
    name = parts[-1]
    if name.startswith(".") or os.path.splitext(name)[1].lower() not in (
        _IMAGE_EXTENSIONS
    ):
        return None
    split, cls = parts[-3], parts[-2]
    if split not in ("train", "test") or cls.startswith("."):
        return None
    return split, cls, parts[:-3]


class _TreeCollector:
    """Collects decoded images of a ``split/class/file`` tree."""

    def __init__(self, source, image_size):
        self.source = source
        self.image_size = image_size
        self.items = {"train": [], "test": []}
        self.prefix = None

    def add(self, position, filename, data, where):
        """Decode and store one image; ``position`` is from _tree_position."""
        split, cls, prefix = position
        if self.prefix is None:
            self.prefix = prefix
        elif prefix != self.prefix:
            raise DataError(
                f"{self.source} holds more than one train/test image tree "
                f"({'/'.join(self.prefix) or '<top level>'} and "
                f"{'/'.join(prefix) or '<top level>'}); point the loader at one of "
                "them (extract the archive, or pass the sub-folder)"
            )
        image = _decode_image(data, where, self.image_size)
        self.items[split].append((cls, filename, where, image))


def _open_decompressed(path):
    """Open a possibly compressed file, detecting the compression by magic bytes."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:2] == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    if magic[:3] == b"BZh":
        import bz2

        return bz2.open(path, "rb")
    if magic == b"\xfd7zXZ\x00":
        import lzma

        return lzma.open(path, "rb")
    return open(path, "rb")


def _archive_errors():
    errors = (tarfile.TarError, OSError, EOFError, zlib.error)
    try:
        import lzma
    except ImportError:  # pragma: no cover - Python built without lzma
        return errors
    return errors + (lzma.LZMAError,)


def _read_tar(path, collector, want_batches):
    """Stream a tar archive once, decoding tree images and keeping CIFAR batches.

    Members are read sequentially from the (decompressed) stream; nothing is
    extracted to disk. The compressed stream is read to its end, so that a
    truncated or corrupt archive raises an error even if it was cut between
    two members.
    """
    batches = {}
    try:
        with _open_decompressed(path) as raw:
            with tarfile.open(fileobj=raw, mode="r|") as tf:
                for member in tf:
                    if not member.isfile():
                        continue
                    parts = tuple(p for p in member.name.split("/") if p not in _SKIP)
                    if not parts:
                        continue
                    is_batch = want_batches and parts[-1] in _CIFAR_FILES
                    position = None if is_batch else _tree_position(parts)
                    if not is_batch and position is None:
                        continue
                    f = tf.extractfile(member)
                    data = f.read() if f is not None else b""
                    if len(data) != member.size:
                        raise EOFError(f"member {member.name} is incomplete")
                    where = f"{path}:{member.name}"
                    if is_batch:
                        batches[parts[-1]] = (data, where)
                    else:
                        collector.add(position, parts[-1], data, where)
            while raw.read(1 << 20):
                pass
    except DataError:
        raise
    except _archive_errors() as e:
        raise DataError(
            f"archive {path} could not be read ({type(e).__name__}: {e}); it is "
            "probably truncated or corrupt: re-download it"
        ) from e
    return batches


def _find_tree_root(path):
    """Return the folder holding ``train/`` and ``test/`` (or None)."""
    if (path / "train").is_dir() and (path / "test").is_dir():
        return path
    subdirs = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) == 1:
        sub = subdirs[0]
        if (sub / "train").is_dir() and (sub / "test").is_dir():
            return sub
    return None


def _read_tree_dir(root, collector):
    for split in ("train", "test"):
        split_dir = root / split
        for cls_dir in sorted(split_dir.iterdir()):
            if not cls_dir.is_dir() or cls_dir.name.startswith("."):
                continue
            for file in sorted(cls_dir.iterdir()):
                position = _tree_position((split, cls_dir.name, file.name))
                if position is None or not file.is_file():
                    continue
                try:
                    data = file.read_bytes()
                except OSError as e:
                    raise DataError(
                        f"image {file} could not be read ({e}); check the file's "
                        "permissions, or delete it"
                    ) from e
                collector.add(position, file.name, data, str(file))


def _assemble_tree(collector, classes, order, name, fixed_classes):
    """Turn collected images into a Dataset."""
    source = collector.source
    if not collector.items["train"] or not collector.items["test"]:
        empty = [s for s in ("train", "test") if not collector.items[s]]
        raise DataError(
            f"no {' or '.join(empty)} images found in {source}; an image-folder data "
            "set must be laid out as train/<class>/<image> and test/<class>/<image> "
            f"(image types: {', '.join(sorted(_IMAGE_EXTENSIONS))}). Check the "
            f"path, or {_DATA_DIR_HINT} pointing at such a folder or .tar.gz"
        )
    found = sorted({cls for items in collector.items.values() for cls, *_ in items})
    if classes is None:
        classes = tuple(found)
    else:
        classes = tuple(str(c) for c in classes)
        unknown = sorted(set(found) - set(classes))
        if unknown:
            what = "CIFAR-10" if fixed_classes else "the given classes"
            raise DataError(
                f"{source} has class folder(s) {unknown} that are not among {what} "
                f"{list(classes)}; remove them, or point at the right data set"
            )
    train_classes = {cls for cls, *_ in collector.items["train"]}
    absent = [c for c in classes if c not in train_classes]
    if absent:
        raise DataError(
            f"{source} has no training images for class(es) {absent}; the data "
            "set is incomplete: re-download or re-extract it"
        )
    index = {c: i for i, c in enumerate(classes)}

    shape = None
    channels = set()
    for items in collector.items.values():
        for _, _, where, image in items:
            if shape is None:
                shape, first = image.shape[:2], where
            elif image.shape[:2] != shape:
                raise DataError(
                    f"image {where} is {image.shape[1]}x{image.shape[0]} but "
                    f"{first} is {shape[1]}x{shape[0]}; all images must have the "
                    "same size: pass image_size to resize them"
                )
            channels.add(1 if image.ndim == 2 else 3)
    n_channels = max(channels)

    arrays = {}
    for split, items in collector.items.items():
        # deterministic order: class, then file name within the class
        items = sorted(items, key=lambda it: (index[it[0]], it[1]))
        labels = np.array([index[cls] for cls, *_ in items], dtype=np.int64)
        if order == "interleave":
            # rank of each image within its class; sort by rank, then label
            ranks = np.zeros(len(labels), dtype=np.int64)
            for k in range(len(classes)):
                mask = labels == k
                ranks[mask] = np.arange(mask.sum())
            perm = np.lexsort((labels, ranks))
            items, labels = [items[i] for i in perm], labels[perm]
        images = np.empty((len(items),) + shape + (n_channels,), dtype=np.uint8)
        for i, (_, _, _, image) in enumerate(items):
            if image.ndim == 2:
                image = image[:, :, None]
            images[i] = image  # broadcasts grayscale to RGB if needed
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels
    return Dataset(**arrays, classes=classes, name=name)


def _check_order(order):
    if order not in ("interleave", "sorted"):
        raise ValueError(f"order must be 'interleave' or 'sorted', got {order!r}")


def _is_tar_path(path):
    return path.is_file() and path.name.lower().endswith(_TAR_SUFFIXES)


def _load_tree(source, classes, image_size, order, name, fixed_classes):
    """Load an image-folder tree from a folder or a tar archive (no cache)."""
    collector = _TreeCollector(source, image_size)
    start = time.perf_counter()
    if source.is_dir():
        root = _find_tree_root(source)
        if root is None:
            raise DataError(
                f"{source} holds no train/ and test/ sub-folders; an image-folder "
                "data set must be laid out as train/<class>/<image> and "
                f"test/<class>/<image>: {_DATA_DIR_HINT} pointing at such a "
                "folder or .tar.gz"
            )
        _read_tree_dir(root, collector)
    else:
        _read_tar(source, collector, want_batches=False)
    dataset = _assemble_tree(collector, classes, order, name, fixed_classes)
    logger.info(
        "decoded %d images from %s in %.1f s",
        len(dataset.train_labels) + len(dataset.test_labels),
        source,
        time.perf_counter() - start,
    )
    return dataset


def load_image_folder(
    path,
    classes=None,
    image_size=None,
    *,
    name=None,
    cache_dir=None,
    order="interleave",
):
    """Load an image-folder tree, from a folder or a tar archive.

    The tree must be laid out as ``train/<class>/<image>`` and
    ``test/<class>/<image>``. In a folder, the tree may sit inside one
    sub-folder; in an archive (``.tar.gz``, ``.tgz``, ``.tar``, ...), it may
    sit under any top-level folder. Archives are streamed, not extracted.
    Hidden files and files that are not images (by extension) are ignored.

    Parameters
    ----------
    path : str or os.PathLike
        Folder or tar archive holding the tree.
    classes : sequence of str or None
        Class names in label order. If None, the sorted class-folder names.
        Class folders not in ``classes`` raise a DataError.
    image_size : int or (int, int) or None
        If given, resize every image to this (height, width) with bilinear
        interpolation. If None, all images must have the same size.
    name : str or None
        Name of the data set (default: the folder or archive name).
    cache_dir : str or os.PathLike or None
        If given, the decoded arrays are saved there as one ``.npz`` file
        (keyed by the source path, size and modification time and by the
        loading options) and reused on the next call.
    order : {"interleave", "sorted"}
        Order of the images in each split. ``"sorted"`` groups them by class
        (file-name order within a class). ``"interleave"`` (default) takes the
        first image of each class, then the second of each class, and so on,
        so that :meth:`Dataset.subset` gives class-balanced subsets.

    Returns
    -------
    Dataset
        uint8 images of shape (N, H, W, C), with C=1 if all images are
        grayscale and C=3 otherwise (grayscale images are then repeated
        over the three channels).

    Raises
    ------
    DataError
        If the path does not exist or holds no such tree, if an image is
        corrupt (the message names the file or archive member), or if images
        differ in size and ``image_size`` is None.
    """
    _check_order(order)
    image_size = _normalize_image_size(image_size)
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(
            f"image folder {source} does not exist; check the path, or "
            f"{_DATA_DIR_HINT} pointing at a folder or .tar.gz holding "
            "train/<class>/<image> and test/<class>/<image>"
        )
    if name is None:
        name = source.name
        for suffix in _TAR_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
    params = {
        "loader": "image_folder",
        "classes": None if classes is None else [str(c) for c in classes],
        "image_size": image_size,
        "order": order,
        "name": name,
    }
    return _cached(
        cache_dir,
        "imagefolder",
        source,
        params,
        lambda: _load_tree(source, classes, image_size, order, name, False),
    )


# --------------------------------------------------------------------------- #
# CIFAR-10
# --------------------------------------------------------------------------- #


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only builds numpy arrays and plain Python containers."""

    _allowed = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy._core.numeric", "_frombuffer"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} (a CIFAR batch only holds arrays, "
            "lists and strings)"
        )


def _unpickle_batch(data, where):
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as e:  # pickle can raise almost anything on bad input
        raise DataError(
            f"CIFAR-10 batch {where} could not be unpickled ({type(e).__name__}: "
            f"{e}); the file is corrupt or not a CIFAR-10 python batch: re-download "
            "cifar-10-python.tar.gz"
        ) from e
    if not isinstance(obj, dict):
        raise DataError(
            f"CIFAR-10 batch {where} holds a {type(obj).__name__}, not a dict; "
            "re-download cifar-10-python.tar.gz"
        )
    return {
        (k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()
    }


def _cifar_batch_arrays(data, where):
    batch = _unpickle_batch(data, where)
    if "data" not in batch or "labels" not in batch:
        raise DataError(
            f"CIFAR-10 batch {where} lacks the 'data' or 'labels' entry (has "
            f"{sorted(batch)}); it is not a CIFAR-10 python batch: re-download "
            "cifar-10-python.tar.gz"
        )
    try:
        flat = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise DataError(
            f"CIFAR-10 batch {where} has malformed data or labels ({e}); "
            "re-download cifar-10-python.tar.gz"
        ) from e
    if flat.ndim != 2 or flat.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"CIFAR-10 batch {where} has data of shape {flat.shape}, expected "
            "(N, 3072); re-download cifar-10-python.tar.gz"
        )
    if labels.shape != (flat.shape[0],):
        raise DataError(
            f"CIFAR-10 batch {where} has {flat.shape[0]} images but "
            f"{labels.size} labels; re-download cifar-10-python.tar.gz"
        )
    # rows are channel-major: 1024 red, then 1024 green, then 1024 blue values
    images = flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _assemble_batches(batches, source):
    missing = [n for n in _CIFAR_BATCH_NAMES + ("test_batch",) if n not in batches]
    if missing:
        raise DataError(
            f"CIFAR-10 python batch(es) {missing} not found in {source}; the "
            "download is incomplete: re-download cifar-10-python.tar.gz (e.g. with "
            f"nengo_softlif.data.fetch_cifar10), or {_DATA_DIR_HINT} pointing at a "
            "complete cifar-10-batches-py folder"
        )
    train = [_cifar_batch_arrays(*batches[n]) for n in _CIFAR_BATCH_NAMES]
    test_images, test_labels = _cifar_batch_arrays(*batches["test_batch"])
    classes = CIFAR10_CLASSES
    if "batches.meta" in batches:
        meta = _unpickle_batch(*batches["batches.meta"])
        names = meta.get("label_names")
        if names is not None:
            classes = tuple(
                n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names
            )
    try:
        return Dataset(
            train_images=np.concatenate([t[0] for t in train]),
            train_labels=np.concatenate([t[1] for t in train]),
            test_images=test_images,
            test_labels=test_labels,
            classes=classes,
            name="cifar10",
        )
    except (TypeError, ValueError) as e:
        raise DataError(
            f"CIFAR-10 batches in {source} are inconsistent ({e}); re-download "
            "cifar-10-python.tar.gz"
        ) from e


def _read_batches_dir(folder):
    batches = {}
    for name in _CIFAR_FILES:
        path = folder / name
        if path.is_file():
            try:
                batches[name] = (path.read_bytes(), str(path))
            except OSError as e:
                raise DataError(
                    f"CIFAR-10 batch {path} could not be read ({e}); check its "
                    "permissions, or re-download cifar-10-python.tar.gz"
                ) from e
    return batches


def _is_batches_dir(path):
    return (path / "data_batch_1").is_file() or (path / "test_batch").is_file()


def _find_cifar10_source(data_dir, depth=0):
    """Return ``(kind, path)`` with kind in {"batches", "tree", "tar"}, or None."""
    if data_dir.is_file():
        return ("tar", data_dir) if _is_tar_path(data_dir) else None
    if _is_batches_dir(data_dir):
        return "batches", data_dir
    if (data_dir / "train").is_dir() and (data_dir / "test").is_dir():
        return "tree", data_dir
    if depth < 2:
        for sub in ("cifar-10-batches-py", "cifar10", "cifar-10", "CIFAR10"):
            if (data_dir / sub).is_dir():
                found = _find_cifar10_source(data_dir / sub, depth + 1)
                if found is not None:
                    return found
    for name in ("cifar-10-python.tar.gz", "cifar10-jpeg.tar.gz"):
        if (data_dir / name).is_file():
            return "tar", data_dir / name
    tars = sorted(
        p
        for p in data_dir.iterdir()
        if p.name.lower().startswith("cifar") and _is_tar_path(p)
    )
    if tars:
        return "tar", tars[0]
    root = _find_tree_root(data_dir)
    if root is not None:
        return "tree", root
    return None


def _load_cifar10_uncached(kind, source, order):
    if kind == "batches":
        return _assemble_batches(_read_batches_dir(source), source)
    if kind == "tree":
        return _load_tree(source, CIFAR10_CLASSES, None, order, "cifar10", True)
    collector = _TreeCollector(source, None)
    start = time.perf_counter()
    batches = _read_tar(source, collector, want_batches=True)
    if batches:
        return _assemble_batches(batches, source)
    dataset = _assemble_tree(collector, CIFAR10_CLASSES, order, "cifar10", True)
    logger.info(
        "decoded %d images from %s in %.1f s",
        len(dataset.train_labels) + len(dataset.test_labels),
        source,
        time.perf_counter() - start,
    )
    return dataset


def load_cifar10(data_dir, cache_dir=None, *, order="interleave"):
    """Load CIFAR-10 from the official python batches or an image-folder tree.

    Accepted sources:

    * the official python version: a ``cifar-10-batches-py`` folder with
      ``data_batch_1`` to ``data_batch_5``, ``test_batch`` and
      ``batches.meta``, or the ``cifar-10-python.tar.gz`` archive holding it;
    * an image-folder tree ``train/<class>/*`` and ``test/<class>/*`` (JPEG,
      PNG, ...) with the CIFAR-10 class names as folder names;
    * a tar archive of such a tree (e.g. ``cifar10-jpeg.tar.gz``), possibly
      under a top-level folder. Archives are streamed, not extracted.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The source itself (folder or archive), or a folder holding a
        ``cifar10/``, ``cifar-10-batches-py/`` (or ``cifar-10/``) sub-folder or
        one of the archives.
    cache_dir : str or os.PathLike or None
        If given, the decoded arrays are saved there as one ``.npz`` file,
        keyed by the source path, size and modification time, and reused on
        later calls. Recommended for image-folder sources, whose decoding
        takes several seconds.
    order : {"interleave", "sorted"}
        Image order for image-folder sources (see :func:`load_image_folder`);
        the python batches keep their official order.

    Returns
    -------
    Dataset
        50,000 training and 10,000 test images of shape (32, 32, 3), uint8;
        classes airplane, automobile, bird, cat, deer, dog, frog, horse, ship,
        truck (labels 0-9); name ``"cifar10"``.

    Raises
    ------
    DataError
        If no source is found, a batch or image is corrupt, an archive is
        truncated, or the class folders are not CIFAR-10's.
    """
    _check_order(order)
    data_dir = _existing_dir(data_dir, "CIFAR-10", allow_file=True)
    found = _find_cifar10_source(data_dir)
    if found is None:
        raise DataError(
            f"no CIFAR-10 data found in {data_dir}; expected a cifar-10-batches-py "
            "folder, cifar-10-python.tar.gz, an image-folder tree "
            "train/<class>/*.jpg + test/<class>/*.jpg, or a .tar.gz of such a tree "
            "(e.g. cifar10-jpeg.tar.gz), either there or in a cifar10/ sub-folder. "
            "Download it (e.g. with nengo_softlif.data.fetch_cifar10), or "
            f"{_DATA_DIR_HINT} pointing at such a folder"
        )
    kind, source = found
    logger.info("loading CIFAR-10 from %s (%s)", source, kind)
    params = {"loader": "cifar10", "kind": kind, "order": order}
    return _cached(
        cache_dir,
        "cifar10",
        source,
        params,
        lambda: _load_cifar10_uncached(kind, source, order),
    )


# --------------------------------------------------------------------------- #
# Cache
# --------------------------------------------------------------------------- #


def _fingerprint(source):
    """Identify a file or folder tree by path, sizes and modification times."""
    source = source.resolve()
    if source.is_file():
        st = source.stat()
        return {"path": str(source), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    digest = hashlib.sha256()
    count = total = latest = 0
    for folder, dirnames, filenames in os.walk(source):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(folder, name)
            st = os.stat(path)
            rel = os.path.relpath(path, source)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            count += 1
            total += st.st_size
            latest = max(latest, st.st_mtime_ns)
    return {
        "path": str(source),
        "files": count,
        "size": total,
        "mtime_ns": latest,
        "listing": digest.hexdigest(),
    }


def _cached(cache_dir, prefix, source, params, load):
    """Return ``load()``, through an ``.npz`` cache in cache_dir if given."""
    if cache_dir is None:
        return load()
    cache_dir = Path(cache_dir).expanduser()
    key = json.dumps(
        {"version": _CACHE_VERSION, "source": _fingerprint(source), "params": params},
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = cache_dir / f"{prefix}-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    dataset = Dataset(
                        train_images=z["train_images"],
                        train_labels=z["train_labels"],
                        test_images=z["test_images"],
                        test_labels=z["test_labels"],
                        classes=tuple(str(c) for c in z["classes"]),
                        name=str(z["name"]),
                    )
                    logger.info("loaded %s from cache %s", source, path)
                    return dataset
        except Exception as e:  # a damaged cache is rebuilt, never fatal
            logger.warning("ignoring damaged cache file %s (%s); rebuilding", path, e)
    dataset = load()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _atomic_savez(
            path,
            key=np.array(key),
            train_images=dataset.train_images,
            train_labels=dataset.train_labels,
            test_images=dataset.test_images,
            test_labels=dataset.test_labels,
            classes=np.array(dataset.classes, dtype=str),
            name=np.array(dataset.name),
        )
        logger.info("saved decoded %s to cache %s", source, path)
    except OSError as e:
        logger.warning("could not write cache file %s (%s); continuing", path, e)
    return dataset


def _atomic_savez(path, **arrays):
    """Write an uncompressed ``.npz`` atomically."""
    with atomic_open(path) as f:
        np.savez(f, **arrays)


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #


def _existing_dir(data_dir, what, allow_file=False):
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DataError(
            f"{what} data folder {path} does not exist; {_DATA_DIR_HINT} pointing at "
            f"the folder that holds the {what} files"
        )
    if not allow_file and not path.is_dir():
        raise DataError(
            f"{what} data folder {path} is not a folder; {_DATA_DIR_HINT} pointing "
            f"at the folder that holds the {what} files"
        )
    return path


def load_dataset(name, data_dir=None, cache_dir=None):
    """Load a data set by name.

    Parameters
    ----------
    name : {"mnist", "cifar10", "mnist-sample"}
        Data set name (case-insensitive; ``"cifar-10"`` and ``"mnist_sample"``
        are accepted too).
    data_dir : str or os.PathLike or None
        Folder holding the data (see :func:`load_mnist` and
        :func:`load_cifar10`). Required for ``"mnist"`` and ``"cifar10"``;
        ignored for ``"mnist-sample"``, which is shipped with the package.
    cache_dir : str or os.PathLike or None
        Cache folder for decoded CIFAR-10 image folders (see
        :func:`load_cifar10`); unused for MNIST.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not a known data set.
    DataError
        If ``data_dir`` is needed but not given, or the data cannot be loaded.
    """
    key = str(name).strip().lower().replace("_", "-")
    key = {"cifar-10": "cifar10", "mnistsample": "mnist-sample"}.get(key, key)
    if key not in DATASET_NAMES:
        raise ValueError(
            f"unknown data set {name!r}; known data sets: {', '.join(DATASET_NAMES)}"
        )
    if key == "mnist-sample":
        return load_embedded_mnist()
    if data_dir is None:
        fetch = "fetch_mnist" if key == "mnist" else "fetch_cifar10"
        raise DataError(
            f"data set {key!r} needs its data files: {_DATA_DIR_HINT} pointing at "
            f"the folder that holds them (to download them first, use "
            f"nengo_softlif.data.{fetch}(cache_dir)), or use 'mnist-sample', which "
            "is shipped with the package"
        )
    if key == "mnist":
        return load_mnist(data_dir)
    return load_cifar10(data_dir, cache_dir=cache_dir)


# --------------------------------------------------------------------------- #
# Preprocessing
# --------------------------------------------------------------------------- #


def _check_images(images):
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (N, H, W, C) (channels last), got {images.shape}"
        )
    return images


def to_float(images):
    """Convert images to float32 on a 0-1 scale.

    Parameters
    ----------
    images : ndarray
        uint8 images (scaled by 1/255), or floating-point images (assumed to
        be on a 0-1 scale already; only cast to float32).

    Returns
    -------
    ndarray of float32
        Same shape as ``images``.

    Raises
    ------
    TypeError
        For integer dtypes other than uint8.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        out = images.astype(np.float32)
        out /= 255.0
        return out
    if np.issubdtype(images.dtype, np.floating):
        return images.astype(np.float32, copy=False)
    raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")


def mean_image(images):
    """Mean image over a set, on the scale of :func:`to_float`.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.

    Returns
    -------
    ndarray of float32, shape (H, W, C)
        Mean image (0-1 scale for uint8 input). Accumulated in float64.
    """
    images = _check_images(images)
    if images.shape[0] == 0:
        raise ValueError("cannot take the mean of an empty image set")
    mean = images.mean(axis=0, dtype=np.float64)
    if images.dtype == np.uint8:
        mean /= 255.0
    elif not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images must be uint8 or floating point, got {images.dtype}")
    return mean.astype(np.float32)


def _crop_size(images, size):
    _, height, width, _ = images.shape
    if size is None:
        return height, width
    if np.isscalar(size):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(
            f"crop size must be an int or (height, width), got {size!r}"
        ) from None
    if (h, w) != tuple(size) or h <= 0 or w <= 0:
        raise ValueError(f"crop size must be positive integers, got {size!r}")
    if h > height or w > width:
        raise ValueError(
            f"crop size {h}x{w} (height x width) is larger than the images, which "
            f"are {height}x{width}; choose a crop size of at most {height}x{width}"
        )
    return h, w


def center_crop(images, size):
    """Crop the centre of each image.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.
    size : int or (int, int)
        Crop height and width (an int means a square crop). When ``H - h`` is
        odd, the crop starts at row ``(H - h) // 2`` (same for columns).

    Returns
    -------
    ndarray of float32, shape (N, h, w, C)
        Cropped images, converted with :func:`to_float`.

    Raises
    ------
    ValueError
        If the crop is larger than the images.
    """
    images = _check_images(images)
    h, w = _crop_size(images, size)
    y = (images.shape[1] - h) // 2
    x = (images.shape[2] - w) // 2
    return to_float(images[:, y : y + h, x : x + w])


def random_crop_flip(images, size, rng, flip=True):
    """Randomly crop and horizontally flip each image (data augmentation).

    Each image gets its own uniformly random crop position and, if ``flip``,
    is mirrored left-right with probability 1/2. Vectorised over images.

    Parameters
    ----------
    images : ndarray, shape (N, H, W, C)
        uint8 or floating-point images.
    size : int or (int, int) or None
        Crop height and width (an int means a square crop). None keeps the
        full image (only flips).
    rng : numpy.random.Generator or numpy.random.RandomState or int or None
        Random number source; an int or None seeds a new Generator.
    flip : bool
        Whether to apply random horizontal flips.

    Returns
    -------
    ndarray of float32, shape (N, h, w, C)
        Augmented images, converted with :func:`to_float`.

    Raises
    ------
    ValueError
        If the crop is larger than the images.
    """
    images = _check_images(images)
    h, w = _crop_size(images, size)
    n, height, width, _ = images.shape
    if isinstance(rng, np.random.RandomState):
        integers, uniform = rng.randint, rng.random_sample
    else:
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        integers, uniform = rng.integers, rng.random
    ys = integers(0, height - h + 1, size=n)
    xs = integers(0, width - w + 1, size=n)
    flips = uniform(n) < 0.5 if flip else np.zeros(n, dtype=bool)

    # All crop windows as a strided view (no copy), axes (n, y, x, h, w, C); one
    # fancy-indexing gather then copies each image's window into (n, h, w, C).
    windows = np.lib.stride_tricks.sliding_window_view(images, (h, w), axis=(1, 2))
    windows = windows.transpose(0, 1, 2, 4, 5, 3)
    out = windows[np.arange(n), ys, xs]
    if flips.any():
        out[flips] = out[flips, :, ::-1]
    return to_float(out)


# --------------------------------------------------------------------------- #
# Downloading
# --------------------------------------------------------------------------- #


def _md5_file(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, dest_dir, md5, filename=None, *, timeout=60.0):
    """Download a file into a folder, verify its MD5 sum and write it atomically.

    If ``dest_dir/filename`` already exists with the expected MD5 sum, nothing
    is downloaded. Otherwise the file is streamed to a temporary file in
    ``dest_dir``, checked, and moved into place with :func:`os.replace`, so an
    interrupted or failed download never leaves a partial file under the
    final name (and no temporary file is left behind).

    Parameters
    ----------
    url : str
        URL to fetch (anything :func:`urllib.request.urlopen` handles,
        including ``file://``).
    dest_dir : str or os.PathLike
        Folder to store the file in (created if needed).
    md5 : str or None
        Expected MD5 hex digest. None skips verification (an existing file is
        then reused as is).
    filename : str or None
        File name in ``dest_dir``; default: the last component of the URL.
    timeout : float
        Network timeout in seconds.

    Returns
    -------
    pathlib.Path
        Path of the downloaded (or already present) file.

    Raises
    ------
    DataError
        If the download fails or the MD5 sum does not match.
    """
    if filename is None:
        filename = posixpath.basename(urllib.parse.urlparse(url).path)
        filename = urllib.parse.unquote(filename)
    if not filename or filename in (".", "..") or "/" in filename or os.sep in filename:
        raise ValueError(f"cannot derive a valid file name from {url!r}; pass filename")
    dest_dir = Path(dest_dir).expanduser()
    dest = dest_dir / filename
    expected = None if md5 is None else md5.strip().lower()
    if dest.is_file() and (expected is None or _md5_file(dest) == expected):
        logger.info("%s already present", dest)
        return dest

    dest_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    with atomic_open(dest, suffix=".part") as out:
        logger.info("downloading %s to %s", url, dest)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            raise DataError(
                f"could not download {url} to {dest} ({type(e).__name__}: {e}); "
                f"check the network connection, or download the file by other "
                f"means and put it at {dest}"
            ) from e
        actual = digest.hexdigest()
        if expected is not None and actual != expected:
            raise DataError(
                f"download of {url} to {dest} has MD5 {actual}, expected {expected}; "
                "the download is corrupt or the file at the URL changed: try again, "
                f"or download the file by other means and put it at {dest}"
            )
    return dest


def fetch_mnist(cache_dir):
    """Download the four MNIST files (if not already present).

    Parameters
    ----------
    cache_dir : str or os.PathLike
        Cache folder; the files go to ``cache_dir/mnist``.

    Returns
    -------
    pathlib.Path
        The folder holding the files; pass it to :func:`load_mnist`.

    Raises
    ------
    DataError
        If a download fails or has the wrong MD5 sum.
    """
    folder = Path(cache_dir).expanduser() / "mnist"
    for filename, source in KNOWN_SOURCES.items():
        if source["dataset"] == "mnist":
            download(source["url"], folder, source["md5"], filename=filename)
    return folder


def fetch_cifar10(cache_dir):
    """Download ``cifar-10-python.tar.gz`` (if not already present).

    Parameters
    ----------
    cache_dir : str or os.PathLike
        Cache folder; the archive goes to ``cache_dir/cifar10``.

    Returns
    -------
    pathlib.Path
        The folder holding the archive; pass it to :func:`load_cifar10` (the
        archive is read directly, without extracting it).

    Raises
    ------
    DataError
        If the download fails or has the wrong MD5 sum.
    """
    folder = Path(cache_dir).expanduser() / "cifar10"
    filename = "cifar-10-python.tar.gz"
    source = KNOWN_SOURCES[filename]
    download(source["url"], folder, source["md5"], filename=filename)
    return folder
