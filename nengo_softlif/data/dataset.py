"""The :class:`Dataset` container, the class names, and :class:`DataError`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

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


#: How to point a loader at the data, for error messages.
DATA_DIR_HINT = "pass data_dir (--data-dir on the command line)"


class DataError(ValueError):
    """A data file is missing, truncated or corrupt.

    The message names the file concerned and says how to fix the problem.
    """


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
                    f"{images.shape[1:]} but training images have shape {shape}; "
                    "both splits must hold images of one size (resize them, e.g. "
                    "load_image_folder(..., image_size=...))"
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


def existing_data_path(data_dir, what, allow_file=False):
    """Return ``data_dir`` as a Path, or raise a DataError saying how to fix it.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The folder (or, with ``allow_file``, file) a loader was pointed at.
    what : str
        The data set's name, for the message (e.g. ``"MNIST"``).
    allow_file : bool
        Whether a file (e.g. an archive) is accepted as well as a folder.
    """
    path = Path(data_dir).expanduser()
    if not path.exists():
        raise DataError(
            f"{what} data folder {path} does not exist; {DATA_DIR_HINT} pointing at "
            f"the folder that holds the {what} files"
        )
    if not allow_file and not path.is_dir():
        raise DataError(
            f"{what} data folder {path} is not a folder; {DATA_DIR_HINT} pointing "
            f"at the folder that holds the {what} files"
        )
    return path
