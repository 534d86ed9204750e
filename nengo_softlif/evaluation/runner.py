"""Classification error, firing rates and operation counts of static and spiking nets.

One protocol for every backend (the paper's): each image is shown for
``presentation_time`` seconds at time step ``dt``; the class is the argmax of the
output averaged over ``[t_start, t_end]`` of its presentation; images follow each
other without resetting the network (``reset=True`` to reset). A static (rate)
network is run for one step per image.

The simulators are backends (:mod:`nengo_softlif.evaluation.backend`):
``"nengo"`` (the reference simulator), ``"nengo-dl"`` (minibatched TensorFlow),
``"fast"`` (event-driven numpy/scipy with the same LIF and synapse dynamics, for
feed-forward LIF networks) and the optional ``"loihi"`` (nengo-loihi emulator).
"""

import dataclasses
import time

import nengo
import numpy as np

from nengo_softlif.data.validate import checked_images, checked_labels
from nengo_softlif.evaluation.backend import (
    BACKENDS,
    ImageProgress,
    get_backend,
    register_backend,
)
from nengo_softlif.evaluation.metrics import (
    ENERGY_PER_NEURON_UPDATE,
    ENERGY_PER_SYNAPTIC_EVENT,
    early_decisions,
    error_vs_time,
    layer_fan_out,
    rate_flops,
    window_errors,
)
from nengo_softlif.network.convert import copy_network

__all__ = [
    "Protocol",
    "EvaluationResult",
    "evaluate",
    "BACKENDS",
    "register_backend",
    "add_monitors",
    "layer_fan_out",
    "check_images",
]


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How images are presented and read out.

    Parameters
    ----------
    dt : float
        Simulation time step (s).
    presentation_time : float
        Time each image is shown (s).
    t_start, t_end : float
        Read-out window within a presentation (s): the class is the argmax of the
        mean output over ``t_start < t <= t_end``.
    reset : bool
        Reset the network state between images.
    """

    dt: float = 0.001
    presentation_time: float = 0.2
    t_start: float = 0.12
    t_end: float = 0.2
    reset: bool = False

    def __post_init__(self):
        for name in ("dt", "presentation_time", "t_start", "t_end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(
                    f"Protocol {name} must be a number of seconds, got {value!r}"
                )
            if not np.isfinite(value):
                raise ValueError(f"Protocol {name} must be finite, got {value}")
        if not self.dt > 0:
            raise ValueError(f"dt must be > 0 (got {self.dt})")
        if not self.presentation_time >= self.dt:
            raise ValueError(
                f"presentation_time ({self.presentation_time}) must be >= dt ({self.dt})"
            )
        if not 0 <= self.t_start < self.t_end <= self.presentation_time + 1e-12:
            raise ValueError(
                f"Need 0 <= t_start < t_end <= presentation_time; got t_start="
                f"{self.t_start}, t_end={self.t_end}, presentation_time="
                f"{self.presentation_time}"
            )
        for name in ("presentation_time", "t_start", "t_end"):
            steps = getattr(self, name) / self.dt
            if abs(steps - round(steps)) > 1e-6 * max(steps, 1):
                raise ValueError(
                    f"{name} ({getattr(self, name)} s) must be a whole number of "
                    f"time steps of dt = {self.dt} s"
                )
        window = self.window
        if window.stop - window.start < 1 or window.stop > self.n_steps:
            raise ValueError(
                f"The read-out window {self.t_start} < t <= {self.t_end} s holds no "
                f"time step of {self.dt} s within the presentation of "
                f"{self.presentation_time} s; make it at least one step long "
                f"(t_start <= t_end - dt)"
            )

    @property
    def n_steps(self):
        """Steps per image."""
        return int(round(self.presentation_time / self.dt))

    @property
    def window(self):
        """Slice of a presentation's steps in the read-out window."""
        start = int(round(self.t_start / self.dt))
        end = int(round(self.t_end / self.dt))
        return slice(start, end)

    @classmethod
    def static(cls):
        """One step per image, read out at that step (rate networks)."""
        return cls(dt=0.001, presentation_time=0.001, t_start=0.0, t_end=0.001)


@dataclasses.dataclass
class EvaluationResult:
    """What :func:`evaluate` measured.

    Attributes
    ----------
    error : float
        Fraction of misclassified images.
    n_images : int
    predictions : ndarray of int
    outputs : ndarray
        Mean output of each image over the read-out window.
    layer_rates : dict of str -> float
        Mean firing rate of each layer's neurons over the presentations (Hz).
    synaptic_events_per_image, neuron_updates_per_image : float or None
        Operation counts per image (spiking networks of known architecture).
    energy_ratio : float or None
        Paper's estimate: spiking energy / rate-network energy per image.
    rate_flops_per_image : float or None
        FLOPs of the rate network per image (2 per connection).
    error_vs_time : dict or None
        Spiking networks: ``{"t_ms": [...], "error": [...]}``, the error when
        each image is read out at time t (mean over the last 40% of [0, t]).
    readouts : dict or None
        With ``windows`` or ``decision_margins`` given to `evaluate`: the error
        of each read-out window, and of each early-decision margin with its mean
        decision time, all from the same simulation.
    wall_time : float
        Seconds for the simulation.
    backend : str
    protocol : Protocol
    """

    error: float
    n_images: int
    predictions: np.ndarray
    outputs: np.ndarray
    layer_rates: dict
    synaptic_events_per_image: object = None
    neuron_updates_per_image: object = None
    energy_ratio: object = None
    rate_flops_per_image: object = None
    error_vs_time: object = None
    readouts: object = None
    wall_time: float = 0.0
    backend: str = ""
    protocol: Protocol = None

    def summary(self):
        """JSON-friendly dict of the scalar results."""
        return {
            "error": self.error,
            "n_images": self.n_images,
            "layer_rates_hz": self.layer_rates,
            "synaptic_events_per_image": self.synaptic_events_per_image,
            "neuron_updates_per_image": self.neuron_updates_per_image,
            "energy_ratio": self.energy_ratio,
            "rate_flops_per_image": self.rate_flops_per_image,
            "error_vs_time": self.error_vs_time,
            "readouts": self.readouts,
            "wall_time_s": self.wall_time,
            "backend": self.backend,
            "protocol": dataclasses.asdict(self.protocol) if self.protocol else None,
        }


def check_images(images, labels, input_size, n_classes=None, input_shape=None):
    """Validate evaluation inputs; return them as float32 (n, input_size) and int.

    Images must be preprocessed floats as in training (see `.Task.preprocessor`
    and :mod:`nengo_softlif.data.validate`): raw 8-bit images, 0-255 values in
    any dtype, complex values, NaN and a single image without its batch axis
    are refused. Labels must be whole numbers in ``range(n_classes)``.
    ``input_shape`` (one image's shape, default ``(input_size,)``) is named in
    messages.
    """
    shape = (input_size,) if input_shape is None else tuple(input_shape)
    if int(np.prod(shape)) != input_size:
        shape = (input_size,)
    flat = checked_images(images, shape)
    labels = checked_labels(labels, flat.shape[0], n_classes)
    return flat, labels


def add_monitors(net):
    """Add, to ``net``, one node per neuron layer summing its activity.

    Each monitor node has 2 dimensions: the layer's mean rate in Hz, and its
    synaptic events per second (spikes x fan-out); the second is zero where the
    fan-out is unknown. Monitor connections are not counted as synapses.

    Returns
    -------
    dict of str -> `nengo.Probe`
    """
    fan_out = layer_fan_out(net.architecture) if hasattr(net, "architecture") else {}
    probes = {}
    with net:
        for name, ens in net.layer_ensembles.items():
            amplitude = getattr(ens.neuron_type, "amplitude", 1.0)
            fan = fan_out.get(name)
            weights = np.zeros((2, ens.n_neurons))
            weights[0] = 1.0 / (ens.n_neurons * amplitude)
            if fan is not None:
                weights[1] = fan / amplitude
            node = nengo.Node(size_in=2, label=f"{name}.monitor")
            nengo.Connection(ens.neurons, node, transform=weights, synapse=None)
            probes[name] = nengo.Probe(node, synapse=None)
    return probes


def evaluate(
    net,
    images,
    labels,
    protocol=None,
    backend="nengo-dl",
    progress=False,
    windows=None,
    decision_margins=None,
    decision_t_min=0.0,
    **options,
):
    """Classify images with a static or spiking network.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A rate network (run for one step per image with ``Protocol.static()``) or
        a spiking network from :func:`nengo_softlif.to_spiking`.
    images : array_like
        Preprocessed images, (n_images, height, width, channels) or flattened:
        pixels on a 0-1 scale, minus the mean training image if the task
        subtracts it. Raw 8-bit pixels, 0-255 values in any dtype (anything
        outside -1.5 to 1.5), complex values, NaN and a single image without
        its batch axis are refused (see `.checked_images`).
    labels : array_like of int
        True classes.
    protocol : `.Protocol`, optional
        Presentation and read-out; by default the paper's MNIST protocol for
        spiking networks and one step for rate networks.
    backend : str
        One of :data:`~nengo_softlif.evaluation.backend.BACKENDS`: ``"nengo-dl"`` (minibatched), ``"fast"``
        (event-driven, spiking LIF networks only), ``"nengo"`` (the reference
        simulator), or ``"loihi"`` (if nengo-loihi is installed).
    progress : bool
        Show a progress bar.
    windows : sequence of (float, float), optional
        Further read-out windows ``(t_start, t_end)`` (s) whose errors are
        computed from the same simulation (``result.readouts["windows"]``).
    decision_margins : sequence of float, optional
        Early-decision read-outs (see
        :func:`nengo_softlif.evaluation.metrics.early_decisions`), one per margin
        (``result.readouts["early"]``).
    decision_t_min : float
        Earliest decision time of those read-outs (s).
    **options
        Passed to the backend (e.g. ``minibatch_size`` for nengo-dl).

    Returns
    -------
    EvaluationResult
    """
    spiking, protocol = _checked_protocol(net, protocol)
    run_backend = get_backend(backend)
    flat, labels = _checked_inputs(net, images, labels)
    monitored = copy_network(net)
    monitors = add_monitors(monitored)
    start = time.perf_counter()
    if progress and spiking:  # the bar shows the running error
        progress = ImageProgress(
            len(labels),
            True,
            backend,
            protocol.presentation_time,
            labels=labels,
            window=protocol.window,
        )
    outputs, monitor_sums = run_backend(
        monitored, flat, protocol, monitors, progress=progress, **options
    )
    wall_time = time.perf_counter() - start
    readout = outputs[:, protocol.window].mean(axis=1)
    predictions = np.argmax(readout, axis=1)
    n_steps = protocol.n_steps
    names = list(monitors)
    layer_rates = {
        name: float(monitor_sums[:, 2 * i].mean() / n_steps)
        for i, name in enumerate(names)
    }
    result = EvaluationResult(
        error=float(np.mean(predictions != labels)),
        n_images=len(labels),
        predictions=predictions,
        outputs=readout,
        layer_rates=layer_rates,
        wall_time=wall_time,
        backend=backend,
        protocol=protocol,
    )
    if spiking and hasattr(net, "architecture"):
        _add_spiking_costs(result, net, monitor_sums, outputs, labels, protocol)
    if windows or decision_margins:
        result.readouts = _readouts(
            outputs, labels, protocol, windows, decision_margins, decision_t_min
        )
    return result


def _checked_inputs(net, images, labels):
    """`check_images` with the network's input shape and number of classes."""
    n_classes = getattr(getattr(net, "out", None), "size_out", None)
    architecture = getattr(net, "architecture", None)
    input_shape = getattr(architecture, "input_shape", None)
    return check_images(images, labels, net.inp.size_out, n_classes, input_shape)


def _checked_protocol(net, protocol):
    """(whether ``net`` spikes, the protocol to use); errors name the fix."""
    if not isinstance(net, nengo.Network) or not hasattr(net, "out_probe"):
        raise TypeError(
            f"net must be a network from build_network, to_spiking or load_network, "
            f"got {type(net).__name__}"
        )
    if protocol is not None and not isinstance(protocol, Protocol):
        raise TypeError(
            f"protocol must be a Protocol (e.g. Protocol(t_start=0.1)), got "
            f"{type(protocol).__name__}; a dict can be passed as Protocol(**values)"
        )
    spiking = any(e.neuron_type.spiking for e in net.all_ensembles)
    if protocol is None:
        protocol = Protocol() if spiking else Protocol.static()
    if spiking and protocol.n_steps < 2:
        raise ValueError(
            f"A spiking network needs a presentation of many time steps, but the "
            f"protocol has {protocol.n_steps}; use Protocol() (200 ms) or longer"
        )
    return spiking, protocol


def _add_spiking_costs(result, net, monitor_sums, outputs, labels, protocol):
    """Synaptic events, neuron updates, energy and error in time of a spiking run."""
    n_layers = monitor_sums.shape[1] // 2
    events = sum(monitor_sums[:, 2 * i + 1].mean() for i in range(n_layers))
    result.synaptic_events_per_image = float(events * protocol.dt)
    result.neuron_updates_per_image = float(net.n_neurons * protocol.n_steps)
    result.rate_flops_per_image = float(rate_flops(net.architecture))
    times, errors = error_vs_time(outputs, labels, protocol.dt)
    every = max(1, protocol.n_steps // 40)
    result.error_vs_time = {
        "t_ms": [float(1000 * t) for t in times[every - 1 :: every]],
        "error": [float(e) for e in errors[every - 1 :: every]],
    }
    result.energy_ratio = (
        ENERGY_PER_SYNAPTIC_EVENT * result.synaptic_events_per_image
        + ENERGY_PER_NEURON_UPDATE * result.neuron_updates_per_image
    ) / result.rate_flops_per_image


def _readouts(outputs, labels, protocol, windows, margins, t_min):
    """Errors of other read-outs of the same traces (see `evaluate`)."""
    windows = [tuple(float(t) for t in w) for w in windows or ()]
    errors = window_errors(outputs, labels, protocol.dt, windows)
    return {
        "windows": [
            {"t_start_ms": 1000 * t0, "t_end_ms": 1000 * t1, "error": e}
            for (t0, t1), e in zip(windows, errors, strict=True)
        ],
        "early": [
            {
                "margin": float(m),
                **early_decisions(outputs, labels, protocol.dt, m, t_min=t_min),
            }
            for m in margins or ()
        ],
    }
