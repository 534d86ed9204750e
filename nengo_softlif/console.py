"""What the command line shows: TensorFlow's start-up noise filtered, progress lines.

Libraries leave logging to their users, so nothing here runs on ``import
nengo_softlif``; the ``nengo-softlif`` command calls :func:`quiet_tensorflow`
(unless ``--verbose``) and uses :class:`Progress` for its progress lines.
"""

import contextlib
import os
import re
import sys
import tempfile
import time
import warnings

__all__ = [
    "quiet_tensorflow",
    "quiet_known_warnings",
    "filtered_stderr",
    "Progress",
    "STARTUP_NOISE",
]

#: Lines TensorFlow 2.15-2.21's C++ start-up writes to stderr on a machine without a
#: GPU (and without TensorRT): none asks the user to do anything.
STARTUP_NOISE = re.compile(
    "|".join(
        [
            r"Unable to register cu(DNN|FFT|BLAS) factory",
            r"TF-TRT Warning: Could not find TensorRT",
            r"Could not find cuda drivers",
            r"cpu_feature_guard",
            r"rebuild TensorFlow with the appropriate compiler flags",
            r"To enable the following instructions",
            r"oneDNN custom operations are on",
            r"failed call to cuInit",
            r"All log messages before absl::InitializeLog\(\) is called",
        ]
    )
)

#: nengo-dl's and nengo-loihi's warning on nengo 4.1 (the newest tested stack).
UNTESTED_NENGO = r"This version of \S+ has not been tested with your \S+ version"


@contextlib.contextmanager
def filtered_stderr(pattern=STARTUP_NOISE):
    """Capture the process's stderr (file descriptor 2) and drop matching lines.

    C++ libraries write to the descriptor, not to ``sys.stderr``, so only a
    descriptor-level capture can filter them; everything else is written back
    when the block ends.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            kept = [
                line for line in text.splitlines() if line and not pattern.search(line)
            ]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def quiet_tensorflow():
    """Import TensorFlow and nengo-dl without their start-up noise (idempotent).

    Also hides nengo-dl's "No GPU support detected" warning (a CPU machine is
    what this package is measured on; it says nothing to do).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="No GPU support detected")
    warnings.filterwarnings("ignore", message=UNTESTED_NENGO)
    if "tensorflow" in sys.modules:
        return
    with filtered_stderr():
        from nengo_softlif.compat import import_nengo_dl  # noqa: PLC0415

        import_nengo_dl()
        import tensorflow as tf  # noqa: PLC0415

        # TensorFlow >= 2.16 looks for a GPU when first asked, not on import
        tf.config.list_physical_devices("GPU")


def quiet_known_warnings():
    """Hide warnings that are expected in this package's runs and ask nothing.

    nengo computes ``max_rates`` and ``intercepts`` of every ensemble from its
    gain and bias, and warns (twice) when they are not finite; the package's
    networks set gain and bias directly (neurons start at the threshold), so
    those values are never used. nengo-dl 3.6 and nengo-loihi 1.1 warn that they
    were tested up to nengo 3.2; this package tests them with nengo 4.1 (the
    newest stack, ``nengo_softlif/compat.py``).
    """
    warnings.filterwarnings(
        "ignore", message="Non-finite values detected in `max_rates`"
    )
    warnings.filterwarnings(
        "ignore", message="invalid value encountered in log1p", module="nengo.neurons"
    )
    warnings.filterwarnings("ignore", message=UNTESTED_NENGO)


class Progress:
    """A progress line: redrawn in place on a terminal, silent otherwise.

    Parameters
    ----------
    total : int
        Units of work (images, steps).
    label : str
        What is being done (``"epoch 3/60"``).
    unit : str
        Name of the unit.
    stream : file, optional
        Default ``sys.stdout``.
    every : float
        Seconds between redraws.
    """

    def __init__(self, total, label, unit="images", stream=None, every=0.5):
        self.total, self.label, self.unit = int(total), label, unit
        self.stream = sys.stdout if stream is None else stream
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every, self.start, self._last = every, time.perf_counter(), 0.0

    def update(self, done, **values):
        """Redraw with ``done`` units finished and ``values`` (e.g. loss=0.3)."""
        now = time.perf_counter()
        if not self.live or (now - self._last < self.every and done < self.total):
            return
        self._last = now
        elapsed = now - self.start
        left = elapsed / done * (self.total - done) if done else float("nan")
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        self.stream.write(
            f"\r{self.label}: {done}/{self.total} {self.unit}  {shown}  "
            f"{elapsed:.0f} s, {left:.0f} s left   "
        )
        self.stream.flush()

    def close(self):
        """End the line (terminal only)."""
        if self.live:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
