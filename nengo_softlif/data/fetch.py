"""Downloading the canonical data files, with MD5 checks and atomic writes."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import posixpath
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from nengo_softlif.atomic import atomic_open
from nengo_softlif.data.dataset import DataError

logger = logging.getLogger(__name__)


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
