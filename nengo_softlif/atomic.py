"""Atomic file writes: readers see the old file or the new one, never half of one.

Checkpoints, data caches, downloads and result files are all written through
:func:`atomic_open`: the data goes to a temporary file in the destination
folder, which replaces the destination only once it is complete and flushed.
"""

import contextlib
import os
import tempfile

__all__ = ["atomic_open", "atomic_write_bytes"]

FILE_MODE = 0o644  # temporary files are created 0600; finished files get this


@contextlib.contextmanager
def atomic_open(path, suffix=".tmp"):
    """Open a binary file for writing that appears at ``path`` only when complete.

    Parameters
    ----------
    path : str or Path
        Destination. Its folder is created if needed.
    suffix : str
        Suffix of the temporary file.

    Yields
    ------
    file
        A binary file object. If the ``with`` block raises, the temporary file is
        removed and ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(path)}.", suffix=suffix
    )
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)
