"""Atomic file writes: readers see the old file or the new one, never half of one.

Checkpoints, data caches, downloads and result files are all written through
:func:`atomic_open`: the data goes to a temporary file in the destination
folder, which replaces the destination only once it is complete and flushed.
"""

import contextlib
import os
import secrets

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "remove_stale_temporaries",
    "pid_alive",
    "FileLock",
]

FILE_MODE = 0o644  # temporary files are created 0600; finished files get this
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


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
    remove_stale_temporaries(path, suffix)
    prefix = f".{os.path.basename(path)}.{os.getpid()}."
    tmp = None
    try:
        # the name is set before the file exists: an exception at any point (one
        # raised by a signal handler too) removes the file
        fd = None
        while fd is None:
            tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(6)}{suffix}")
            with contextlib.suppress(FileExistsError):
                fd = os.open(tmp, _CREATE_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(data)


def pid_alive(pid):
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path, suffix=".tmp"):
    """Remove temporary files of ``path`` left by processes that no longer run.

    A writer killed during :func:`atomic_open` (``kill -9``, a power cut) leaves
    its temporary file behind; the next write of the same file removes it.
    Temporaries of running processes are kept.
    """
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}."
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(folder, name))


class FileLock:
    """An exclusive lock on a file for the life of one process's job.

    ``path + ".lock"`` holds the owner's process id; a lock whose owner no
    longer runs is taken over.

    Parameters
    ----------
    path : str or Path
        The file to protect (e.g. a checkpoint).
    what : str
        What the owner does, for the error message.

    Raises
    ------
    RuntimeError
        On entering, if another running process holds the lock.
    """

    def __init__(self, path, what="writing"):
        self.path = os.fspath(path) + ".lock"
        self.what = what

    def __enter__(self):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
            except FileExistsError:
                try:
                    with open(self.path, encoding="ascii") as f:
                        owner = f.read().strip()
                except OSError:
                    owner = ""
                if owner.isdigit() and pid_alive(owner) and int(owner) != os.getpid():
                    raise RuntimeError(
                        f"Another process (pid {owner}) is {self.what} "
                        f"{self.path[:-5]}; wait for it to finish or use another "
                        "output folder"
                    ) from None
                with contextlib.suppress(OSError):
                    os.unlink(self.path)  # its owner is gone
                continue
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(str(os.getpid()))
            return self
        raise RuntimeError(f"Could not lock {self.path[:-5]}")

    def __exit__(self, *exc):
        with contextlib.suppress(OSError):
            os.unlink(self.path)
