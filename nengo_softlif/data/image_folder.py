"""Image-folder trees ``train/<class>/<image>``, ``test/<class>/<image>``.

Read from a folder or streamed from a tar archive (nothing is extracted);
images are decoded with Pillow, imported only when an image is decoded.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import time
from pathlib import Path

import numpy as np

from nengo_softlif.data.cache import cached_dataset
from nengo_softlif.data.compressed import DECOMPRESSION_ERRORS, open_decompressed
from nengo_softlif.data.dataset import DATA_DIR_HINT, DataError, Dataset

logger = logging.getLogger(__name__)


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

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


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


class TreeCollector:
    """Collects decoded images of a ``split/class/file`` tree.

    ``source`` names the folder or archive in messages; ``image_size``
    (height, width) resizes every image if given.
    """

    def __init__(self, source, image_size):
        self.source = source
        self.image_size = image_size
        self.items = {"train": [], "test": []}
        self.folders = set()  # (split, class) of every class folder, even empty
        self.prefix = None
        self.start = time.perf_counter()

    def add_folder(self, split, cls):
        """Note a class folder (which may hold no images)."""
        if split in ("train", "test") and not cls.startswith("."):
            self.folders.add((split, cls))

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


def read_tar(path, collector, keep_files=frozenset()):
    """Stream a tar archive once, decoding tree images into ``collector``.

    Members are read sequentially from the (decompressed) stream; nothing is
    extracted to disk. Members whose file name is in ``keep_files`` (for
    example CIFAR-10's python batches) are not decoded but returned as
    ``{name: (bytes, where)}``. The compressed stream is read to its end, so
    that a truncated or corrupt archive raises an error even if it was cut
    between two members.
    """
    kept = {}
    try:
        with open_decompressed(path) as raw:
            with tarfile.open(fileobj=raw, mode="r|") as tf:
                for member in tf:
                    if member.isdir():
                        parts = [p for p in member.name.split("/") if p not in _SKIP]
                        if len(parts) >= 2:
                            collector.add_folder(parts[-2], parts[-1])
                        continue
                    if not member.isfile():
                        continue
                    parts = tuple(p for p in member.name.split("/") if p not in _SKIP)
                    if not parts:
                        continue
                    is_kept = parts[-1] in keep_files
                    position = None if is_kept else _tree_position(parts)
                    if not is_kept and position is None:
                        continue
                    f = tf.extractfile(member)
                    data = f.read() if f is not None else b""
                    if len(data) != member.size:
                        raise EOFError(f"member {member.name} is incomplete")
                    where = f"{path}:{member.name}"
                    if is_kept:
                        kept[parts[-1]] = (data, where)
                    else:
                        collector.add(position, parts[-1], data, where)
            while raw.read(1 << 20):
                pass
    except DataError:
        raise
    except (tarfile.TarError,) + DECOMPRESSION_ERRORS as e:
        raise DataError(
            f"archive {path} could not be read ({type(e).__name__}: {e}); it is "
            "probably truncated or corrupt: re-download it"
        ) from e
    return kept


def find_tree_root(path):
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
            collector.add_folder(split, cls_dir.name)
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


def assemble_tree(collector, classes, order, name, fixed_classes):
    """Turn the images a :class:`TreeCollector` holds into a Dataset.

    Labels follow ``classes`` (the sorted class folders if None); with
    ``fixed_classes``, the message for an unknown folder names CIFAR-10.
    ``order`` is as in :func:`load_image_folder`.
    """
    source = collector.source
    if not collector.items["train"] or not collector.items["test"]:
        empty = [s for s in ("train", "test") if not collector.items[s]]
        raise DataError(
            f"no {' or '.join(empty)} images found in {source}; an image-folder data "
            "set must be laid out as train/<class>/<image> and test/<class>/<image> "
            f"(image types: {', '.join(sorted(_IMAGE_EXTENSIONS))}). Check the "
            f"path, or {DATA_DIR_HINT} pointing at such a folder or .tar.gz"
        )
    found = sorted(
        {cls for items in collector.items.values() for cls, *_ in items}
        | {cls for _, cls in collector.folders}
    )
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
    empty = [c for c in absent if ("train", c) in collector.folders]
    if empty:
        raise DataError(
            f"{source}: the class folder(s) {', '.join('train/' + c for c in empty)} "
            "hold no images, so their class(es) cannot be learnt; add images to "
            "them, or remove the empty folder(s)"
        )
    if absent:
        raise DataError(
            f"{source} has no training images for class(es) {absent}; the data "
            "set is incomplete: re-download or re-extract it"
        )
    if len(classes) < 2:
        raise DataError(
            f"{source} holds only one class ({list(classes)}); a classifier needs "
            "at least two class folders under train/ and test/: add the other "
            "classes, or point at the right folder"
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
    dataset = Dataset(**arrays, classes=classes, name=name)
    logger.info(
        "decoded %d images from %s in %.1f s",
        len(dataset.train_labels) + len(dataset.test_labels),
        source,
        time.perf_counter() - collector.start,
    )
    return dataset


def check_order(order):
    """Raise a ValueError unless ``order`` is ``"interleave"`` or ``"sorted"``."""
    if order not in ("interleave", "sorted"):
        raise ValueError(f"order must be 'interleave' or 'sorted', got {order!r}")


def is_tar_path(path):
    """Whether ``path`` is a file named like a (compressed) tar archive."""
    return path.is_file() and path.name.lower().endswith(TAR_SUFFIXES)


def load_tree(source, classes, image_size, order, name, fixed_classes):
    """Load an image-folder tree from a folder or a tar archive (no cache)."""
    collector = TreeCollector(source, image_size)
    if source.is_dir():
        root = find_tree_root(source)
        if root is None:
            raise DataError(
                f"{source} holds no train/ and test/ sub-folders; an image-folder "
                "data set must be laid out as train/<class>/<image> and "
                f"test/<class>/<image>: {DATA_DIR_HINT} pointing at such a "
                "folder or .tar.gz"
            )
        _read_tree_dir(root, collector)
    else:
        read_tar(source, collector)
    return assemble_tree(collector, classes, order, name, fixed_classes)


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
        (keyed by the source path, the content of its files and by the
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
    check_order(order)
    image_size = _normalize_image_size(image_size)
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(
            f"image folder {source} does not exist; check the path, or "
            f"{DATA_DIR_HINT} pointing at a folder or .tar.gz holding "
            "train/<class>/<image> and test/<class>/<image>"
        )
    if name is None:
        name = source.name
        for suffix in TAR_SUFFIXES:
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
    return cached_dataset(
        cache_dir,
        "imagefolder",
        source,
        params,
        lambda: load_tree(source, classes, image_size, order, name, False),
    )
