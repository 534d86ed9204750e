"""MNIST: the IDX file format, the four standard files, and the shipped sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nengo_softlif.data.compressed import DECOMPRESSION_ERRORS, open_decompressed
from nengo_softlif.data.dataset import (
    DATA_DIR_HINT,
    MNIST_CLASSES,
    DataError,
    Dataset,
    existing_data_path,
)
from nengo_softlif.data.packaged import read_packaged

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


def read_idx(path):
    """Read an IDX file, raw or compressed (gzip, bzip2 or xz).

    Compression is detected from the file's magic bytes, so the file name
    does not need to end in ``.gz``.

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
        with open_decompressed(path) as f:
            raw = f.read()
    except DECOMPRESSION_ERRORS as e:
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


#: File-name suffixes tried after the bare IDX name (read_idx detects the
#: compression from the content, whatever the suffix).
_COMPRESSED_SUFFIXES = ("", ".gz", ".bz2", ".xz")


def _find_mnist_file(folder, stem):
    """The one file of ``stem`` in ``folder`` (raw or compressed), or None.

    Two copies (say a raw file next to its ``.gz``) are used only if they hold
    the same data; otherwise one is stale and the error names both.
    """
    # Some mirrors use e.g. "train-images.idx3-ubyte".
    found = [
        folder / (base + suffix)
        for base in (stem, stem.replace("-idx", ".idx"))
        for suffix in _COMPRESSED_SUFFIXES
        if (folder / (base + suffix)).is_file()
    ]
    if len(found) > 1:
        first = read_idx(found[0])
        for other in found[1:]:
            if not np.array_equal(first, read_idx(other)):
                raise DataError(
                    f"{found[0]} and {other} are both MNIST's {stem} but hold "
                    "different data; one of them is stale: delete it (or move it "
                    "away) and run again"
                )
    return found[0] if found else None


def load_mnist(data_dir):
    """Load MNIST from the four standard IDX files.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each raw or
        compressed, with a ``.gz``, ``.bz2`` or ``.xz`` suffix), or a parent of
        such a folder named ``mnist`` (``MNIST/raw`` as written by torchvision
        also works).

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
    data_dir = existing_data_path(data_dir, "MNIST")
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
            f"nengo_softlif.data.fetch_mnist), or {DATA_DIR_HINT} pointing at a "
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
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
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
    arrays = read_packaged(
        "mnist_sample.npz",
        ("train_images", "train_labels", "test_images", "test_labels"),
        "MNIST sample",
    )
    for split in ("train", "test"):
        arrays[f"{split}_images"] = arrays[f"{split}_images"][..., None]
        arrays[f"{split}_labels"] = arrays[f"{split}_labels"].astype(np.int64)
    return Dataset(**arrays, classes=MNIST_CLASSES, name="mnist-sample")
