"""A cache of decoded data sets: one ``.npz`` per source and loading options."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from nengo_softlif.atomic import atomic_open
from nengo_softlif.data.dataset import Dataset

logger = logging.getLogger(__name__)


_CACHE_VERSION = 2


def _file_digest(path):
    """SHA-256 of a file's content (hex), or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:  # a broken link, a link loop, no permission: not data
        return None


def _tree_files(root):
    """``(relative path, path)`` of every file under ``root``, links followed.

    Links to folders are followed once (a link back to a parent is not walked
    again); broken links and link loops are listed, to be found unreadable.
    """
    seen = set()
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(folder, name)
            yield os.path.relpath(path, root), path


def _fingerprint(source):
    """Identify a file or folder tree by its path and the content of its files.

    Content, not modification times: a file rewritten with its old time stamp
    is still noticed. Files that cannot be read (broken links, link loops) are
    keyed as such; the loaders skip or report them.
    """
    source = source.resolve()
    if source.is_file():
        return {"path": str(source), "sha256": _file_digest(source)}
    digest = hashlib.sha256()
    count = 0
    for rel, path in _tree_files(source):
        digest.update(f"{rel}\0{_file_digest(path)}\n".encode())
        count += 1
    return {"path": str(source), "files": count, "sha256": digest.hexdigest()}


def cached_dataset(cache_dir, prefix, source, params, load):
    """Return ``load()``, through an ``.npz`` cache in ``cache_dir`` if given.

    Parameters
    ----------
    cache_dir : str or os.PathLike or None
        Cache folder; None calls ``load`` without caching.
    prefix : str
        File-name prefix of the cache entry (e.g. ``"cifar10"``).
    source : pathlib.Path
        File or folder the data set is read from; its path and the content of
        its files are part of the cache key, so a changed source is decoded
        again.
    params : dict
        Loading options (JSON-serialisable), also part of the key.
    load : callable
        Returns the :class:`~nengo_softlif.data.Dataset` when there is no
        valid cache entry.

    Notes
    -----
    The entry is written atomically. A damaged entry is rebuilt, and a cache
    folder that cannot be written only logs a warning.
    """
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
