"""CIFAR-10, from the official python batches or an image-folder tree."""

from __future__ import annotations

import io
import logging
import pickle

import numpy as np

from nengo_softlif.data.cache import cached_dataset
from nengo_softlif.data.dataset import (
    CIFAR10_CLASSES,
    DATA_DIR_HINT,
    DataError,
    Dataset,
    existing_data_path,
)
from nengo_softlif.data.image_folder import (
    TreeCollector,
    assemble_tree,
    check_order,
    find_tree_root,
    is_tar_path,
    load_tree,
    read_tar,
)

logger = logging.getLogger(__name__)


_CIFAR_BATCH_NAMES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_FILES = frozenset(_CIFAR_BATCH_NAMES + ("test_batch", "batches.meta"))


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
            f"nengo_softlif.data.fetch_cifar10), or {DATA_DIR_HINT} pointing at a "
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
        return ("tar", data_dir) if is_tar_path(data_dir) else None
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
        if p.name.lower().startswith("cifar") and is_tar_path(p)
    )
    if tars:
        return "tar", tars[0]
    root = find_tree_root(data_dir)
    if root is not None:
        return "tree", root
    return None


def _load_cifar10_uncached(kind, source, order):
    if kind == "batches":
        return _assemble_batches(_read_batches_dir(source), source)
    if kind == "tree":
        return load_tree(source, CIFAR10_CLASSES, None, order, "cifar10", True)
    collector = TreeCollector(source, None)
    batches = read_tar(source, collector, keep_files=_CIFAR_FILES)
    if batches:
        return _assemble_batches(batches, source)
    return assemble_tree(collector, CIFAR10_CLASSES, order, "cifar10", True)


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
        keyed by the source path and the content of its files, and reused on
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
    check_order(order)
    data_dir = existing_data_path(data_dir, "CIFAR-10", allow_file=True)
    found = _find_cifar10_source(data_dir)
    if found is None:
        raise DataError(
            f"no CIFAR-10 data found in {data_dir}; expected a cifar-10-batches-py "
            "folder, cifar-10-python.tar.gz, an image-folder tree "
            "train/<class>/*.jpg + test/<class>/*.jpg, or a .tar.gz of such a tree "
            "(e.g. cifar10-jpeg.tar.gz), either there or in a cifar10/ sub-folder. "
            "Download it (e.g. with nengo_softlif.data.fetch_cifar10), or "
            f"{DATA_DIR_HINT} pointing at such a folder"
        )
    kind, source = found
    logger.info("loading CIFAR-10 from %s (%s)", source, kind)
    params = {"loader": "cifar10", "kind": kind, "order": order}
    return cached_dataset(
        cache_dir,
        "cifar10",
        source,
        params,
        lambda: _load_cifar10_uncached(kind, source, order),
    )


def load_cifar10_sample():
    """The 100 CIFAR-10 test images shipped with the package.

    The first 100 images of the test set, in the interleaved class order of
    :func:`load_cifar10` (10 of each class); see ``nengo_softlif/datasets/README.md``.
    Enough to run a trained network (such as the shipped one,
    :func:`nengo_softlif.pretrained.load_pretrained`) on real images offline.

    Returns
    -------
    images : ndarray of uint8, shape (100, 32, 32, 3)
    labels : ndarray of int64, shape (100,)
    """
    from nengo_softlif.data.packaged import read_packaged  # noqa: PLC0415

    arrays = read_packaged(
        "cifar10_sample.npz", ("test_images", "test_labels"), "CIFAR-10 sample"
    )
    return arrays["test_images"], arrays["test_labels"].astype(np.int64)
