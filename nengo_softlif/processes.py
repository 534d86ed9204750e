"""Worker processes that end with the process that started them.

A local pool of worker processes (``evaluate --workers N``,
:func:`nengo_softlif.evaluation.distributed.evaluate_parallel`) starts its workers
through multiprocessing's forkserver: the workers are children of that server,
not of the process that uses them, and the server and multiprocessing's
resource tracker keep running until the last worker has ended. A worker busy
with its share of the images would outlive a parent ended by ``kill -9``, and
keep the server and the tracker alive with it.

:func:`follow_parent`, given as the pool's initializer, makes every worker end
as soon as the process that started the pool ends, however it ends; the server
and the tracker then end on their own. :func:`stop_pool` ends a pool's workers
at once, instead of letting them finish their current tasks, when the process
that uses them is interrupted (Ctrl-C, ``SIGTERM``).
"""

import os
import select
import signal
import threading
import time

from nengo_softlif.atomic import pid_alive

__all__ = ["follow_parent", "stop_pool"]

#: Seconds between checks that the parent runs, where it cannot be waited for.
POLL_INTERVAL = 0.5


def follow_parent(pid):
    """In a worker: end this process when process ``pid`` ends.

    Also ignores Ctrl-C in the worker: the terminal sends it to every process of
    the command, and the parent, which handles it, stops its workers itself
    (:func:`stop_pool`).

    Parameters
    ----------
    pid : int
        The process that started the worker (usually ``os.getpid()`` in the
        parent, passed with the pool's ``initargs``).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_after, args=(int(pid),), name="follow-parent", daemon=True
    ).start()


def _exit_after(pid):
    """Wait until process ``pid`` has ended, then end this process at once."""
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3: readable when the process ends
    except (AttributeError, OSError):
        while pid_alive(pid):
            time.sleep(POLL_INTERVAL)
    else:
        select.select([fd], [], [])
    os._exit(1)  # noqa: SLF001  (no clean-up: the parent's results are gone)


def stop_pool(pool, timeout=5.0):
    """End the workers of a ``concurrent.futures.ProcessPoolExecutor`` now.

    Pending tasks are cancelled and running ones are lost; the workers get
    ``SIGTERM``, and ``SIGKILL`` if they have not ended within ``timeout``
    seconds.

    Parameters
    ----------
    pool : concurrent.futures.ProcessPoolExecutor
    timeout : float
    """
    # the pool's processes are not public before Python 3.14 (terminate_workers)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)
