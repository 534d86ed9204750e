"""The backend interface: how a simulator plugs into `.evaluate`.

A backend is a function registered under a name::

    @register_backend("my-simulator")
    def run(net, images, protocol, monitors, progress=False, **options):
        ...
        return outputs, monitor_sums

It receives

``net``
    A copy of the network to run (a `.SoftLIFNetwork`, spiking or static), with
    one monitor node per neuron layer added (see `.add_monitors`).
``images``
    ``(n_images, input_size)`` float32 images, already checked.
``protocol``
    The `.Protocol`: time step, presentation time, read-out window, reset.
``monitors``
    Layer name -> `nengo.Probe` on that layer's monitor node (2 dimensions:
    mean rate, synaptic events per second).
``progress``
    Whether to show progress: a bool or an `ImageProgress` (pass it to
    :func:`image_progress`).
``**options``
    Backend options given to `.evaluate`; unknown ones must raise `TypeError`.

and returns ``outputs``, ``(n_images, n_steps, n_out)`` read-out values at every
step of each presentation, and ``monitor_sums``, ``(n_images, 2 * n_monitors)``
sums of each monitor probe over each presentation (in the order of
``monitors``). Error, rates and operation counts are computed from these by
`.evaluate`, the same way for every backend.

Backends that need optional packages are registered when first asked for
(:data:`LAZY_BACKENDS`), so that ``import nengo_softlif`` imports neither
TensorFlow nor nengo-loihi.
"""

import importlib
import sys

import numpy as np

from nengo_softlif import registry

__all__ = [
    "BACKENDS",
    "LAZY_BACKENDS",
    "register_backend",
    "get_backend",
    "progress",
    "ImageProgress",
    "image_progress",
]

#: Backend name -> ``run(net, images, protocol, monitors, **options) -> (outputs,
#: monitor_sums)``: ``outputs`` (n_images, n_steps, n_out) read-out values and
#: ``monitor_sums`` (n_images, n_monitor_dims) sums over each presentation.
BACKENDS = registry.Registry("evaluation backend")


#: Backends registered when first asked for (so that TensorFlow or nengo-loihi are
#: imported only then): name -> module that registers it.
LAZY_BACKENDS = {
    "nengo": "nengo_softlif.backends.reference",
    "nengo-dl": "nengo_softlif.backends.nengo_dl",
    "fast": "nengo_softlif.backends.fast",
    "loihi": "nengo_softlif.backends.loihi",
}


def register_backend(name):
    """Decorator: register an evaluation backend under ``name`` (warns on overwrite)."""

    def register(run):
        return registry.add(BACKENDS, name, run, "evaluation backend")

    return register


def get_backend(name):
    """The run function of backend ``name`` (imported and registered if needed).

    Raises
    ------
    ValueError
        If no backend has that name (the message lists the known ones).
    """
    if name not in BACKENDS and name in LAZY_BACKENDS:
        importlib.import_module(LAZY_BACKENDS[name])  # registers itself
    if name not in BACKENDS:
        raise ValueError(
            f"Unknown backend {name!r}; choose one of "
            f"{sorted(set(BACKENDS) | set(LAZY_BACKENDS))}"
        )
    return BACKENDS[name]


def _tqdm():
    """tqdm's notebook bar in a Jupyter kernel, its text bar anywhere else.

    ``tqdm.auto`` takes any process that has imported ``ipykernel.zmqshell`` for
    a notebook (some libraries import it whenever Jupyter is installed), and then
    warns on the console that ipywidgets is missing or draws widgets as text.
    """
    # pylint: disable=import-outside-toplevel
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ == "ZMQInteractiveShell":
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm


def progress(iterable, enabled, desc, unit="image"):
    """``iterable`` with a progress bar (tqdm) if ``enabled``, else unchanged."""
    if not enabled:
        return iterable
    return _tqdm()(iterable, desc=desc, unit=unit)


class ImageProgress:
    """Progress of a spiking run, in images and simulated seconds, with the error.

    A tqdm bar when ``enabled`` (silent otherwise); backends call
    :meth:`update` with the number of images each step finished, however they
    group them (streams, chunks), and (for the running error) which images and
    their output traces.

    Parameters
    ----------
    n_images : int
        Images in the run.
    enabled : bool
        Show the bar.
    desc : str
        Label (the backend's name).
    seconds_per_image : float
        Simulated time of one presentation (the protocol's ``presentation_time``).
    labels : array_like of int, optional
        True classes of all the images: the bar then shows the running error.
    window : slice, optional
        The read-out steps of a presentation (the protocol's ``window``).
    """

    def __init__(
        self, n_images, enabled, desc, seconds_per_image, labels=None, window=None
    ):
        self.seconds_per_image = float(seconds_per_image)
        self.labels = None if labels is None else np.asarray(labels)
        self.window = slice(None) if window is None else window
        self.done = self.scored = self.wrong = 0
        self.bar = None
        if enabled:
            self.bar = _tqdm()(total=int(n_images), desc=desc, unit="image")

    @property
    def wants_traces(self):
        """Whether :meth:`update` uses ``idx`` and ``traces`` (the running error)."""
        return self.labels is not None

    def update(self, n, idx=None, traces=None):
        """``n`` more images are done (``idx``: which; ``traces``: their outputs)."""
        self.done += int(n)
        if self.labels is not None and idx is not None and traces is not None:
            readout = np.asarray(traces)[:, self.window].mean(axis=1)
            self.wrong += int(np.sum(readout.argmax(axis=1) != self.labels[idx]))
            self.scored += len(readout)
        if self.bar is not None:
            text = f"{self.done * self.seconds_per_image:.1f} s simulated"
            if self.scored:
                text += f", error {self.wrong / self.scored:.1%}"
            self.bar.update(int(n))
            self.bar.set_postfix_str(text, refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def image_progress(progress, n_images, desc, protocol):
    """The `ImageProgress` a backend reports to.

    ``progress`` is what the backend was given: an `ImageProgress` made by
    `.evaluate` (which knows the labels), or a bool.
    """
    if isinstance(progress, ImageProgress):
        return progress
    return ImageProgress(n_images, bool(progress), desc, protocol.presentation_time)
