"""Loading and preprocessing of image-classification data sets.

This package reads the usual on-disk formats of the data sets used with
``nengo_softlif`` and returns them as a :class:`Dataset` of ``uint8`` images
(channels last) and ``int64`` labels:

* MNIST as IDX files (raw or compressed): :func:`load_mnist`.
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
:func:`checked_images` and :func:`checked_labels` check the arrays given to
training and evaluation (preprocessed floats in -1 to 1, whole class numbers).

Only numpy and the standard library are imported at module level; Pillow is
imported lazily, when image files are decoded.

One module per idea: :mod:`~nengo_softlif.data.dataset` (the container),
:mod:`~nengo_softlif.data.mnist`, :mod:`~nengo_softlif.data.cifar`,
:mod:`~nengo_softlif.data.image_folder`, :mod:`~nengo_softlif.data.compressed`
(transparent gzip/bzip2/xz), :mod:`~nengo_softlif.data.cache`,
:mod:`~nengo_softlif.data.preprocess`, :mod:`~nengo_softlif.data.validate` and
:mod:`~nengo_softlif.data.fetch`.
Everything public is importable from ``nengo_softlif.data``.
"""

from nengo_softlif.data.cifar import load_cifar10, load_cifar10_sample
from nengo_softlif.data.dataset import (
    CIFAR10_CLASSES,
    DATA_DIR_HINT,
    MNIST_CLASSES,
    DataError,
    Dataset,
)
from nengo_softlif.data.fetch import KNOWN_SOURCES, download, fetch_cifar10, fetch_mnist
from nengo_softlif.data.image_folder import load_image_folder
from nengo_softlif.data.mnist import load_embedded_mnist, load_mnist, read_idx
from nengo_softlif.data.preprocess import (
    center_crop,
    mean_image,
    random_crop_flip,
    to_float,
)
from nengo_softlif.data.validate import checked_images, checked_labels

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "DataError",
    "Dataset",
    "KNOWN_SOURCES",
    "MNIST_CLASSES",
    "center_crop",
    "checked_images",
    "checked_labels",
    "download",
    "fetch_cifar10",
    "fetch_mnist",
    "load_cifar10",
    "load_dataset",
    "load_embedded_mnist",
    "load_cifar10_sample",
    "load_image_folder",
    "load_mnist",
    "mean_image",
    "random_crop_flip",
    "read_idx",
    "to_float",
]

#: Names accepted by :func:`load_dataset`.
DATASET_NAMES = ("mnist", "cifar10", "mnist-sample", "folder")


def load_dataset(name, data_dir=None, cache_dir=None, image_size=None):
    """Load a data set by name.

    Parameters
    ----------
    name : {"mnist", "cifar10", "mnist-sample", "folder"}
        Data set name (case-insensitive; ``"cifar-10"`` and ``"mnist_sample"``
        are accepted too). ``"folder"`` is any image-folder tree
        (``train/<class>/<image>``, ``test/<class>/<image>``; see
        :func:`load_image_folder`).
    data_dir : str or os.PathLike or None
        Folder holding the data (see :func:`load_mnist` and
        :func:`load_cifar10`). Required for ``"mnist"`` and ``"cifar10"``;
        ignored for ``"mnist-sample"``, which is shipped with the package.
    cache_dir : str or os.PathLike or None
        Cache folder for decoded CIFAR-10 image folders (see
        :func:`load_cifar10`) and image folders; unused for MNIST.
    image_size : int or (int, int) or None
        ``"folder"`` only: resize every image to this size (None: keep the
        images' own size, which must then be the same for all).

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
            f"data set {key!r} needs its data files: {DATA_DIR_HINT} pointing at "
            f"the folder that holds them (to download them first, use "
            f"nengo_softlif.data.{fetch}(cache_dir)), or use 'mnist-sample', which "
            "is shipped with the package"
        )
    if image_size is not None and key != "folder":
        raise ValueError(
            f"image_size applies to image folders (name='folder'), not {key!r}"
        )
    if key == "mnist":
        return load_mnist(data_dir)
    if key == "folder":
        return load_image_folder(data_dir, image_size=image_size, cache_dir=cache_dir)
    return load_cifar10(data_dir, cache_dir=cache_dir)
