"""Where accuracy goes after conversion and on the chip: :func:`diagnose`.

One call runs a network on the same images several ways and compares each run
with the exact spiking network (nengo's LIF, alpha synapses, the ``"fast"``
backend):

* the static network as hard rates (if a rate network is given);
* the exact spiking network;
* each of the chip's changes alone (:data:`~nengo_softlif.backends.loihi.CHIP_CHANGES`:
  pool implementation, Loihi's LIF, input spikes, 8-bit weights, synapses),
  then all of them together (a model of the chip), on the fast backend;
* optionally nengo-loihi's emulator itself (slow: seconds per image).

Per run: the error, the predictions that agree with the exact network's, the
read-out difference, and per layer the firing rates over the *active* neurons
(mean and percentiles: layer means hide sparse layers whose few active
neurons fire fast), the fraction of neurons near their highest rate, and the
rate change against the exact network over the neurons active there. The
single changes are ranked by how many predictions they change. :meth:`Diagnosis.table` writes it
all as Markdown, :meth:`Diagnosis.to_dict` as JSON for the run's report.
"""

import dataclasses
import time

import numpy as np

from nengo_softlif.evaluation.runner import Protocol, evaluate

__all__ = ["Diagnosis", "diagnose", "layer_rate_statistics", "readout_difference"]

#: Percentiles of the active neurons' rates reported per layer.
PERCENTILES = (50, 90, 99)

#: A neuron is near its highest rate above this fraction of it (the smaller of
#: ``1 / tau_ref`` and one spike per step).
SATURATION = 0.5


def readout_difference(outputs, reference):
    """Mean absolute difference of read-outs over the reference's mean magnitude."""
    outputs, reference = np.asarray(outputs), np.asarray(reference)
    return float(
        np.abs(outputs - reference).mean() / max(np.abs(reference).mean(), 1e-12)
    )


def _max_rate(neuron_type, dt):
    tau_ref = float(getattr(neuron_type, "tau_ref", 0.0) or 0.0)
    return 1.0 / max(tau_ref, dt)


def layer_rate_statistics(rates, max_rate, reference=None):
    """Statistics of one layer's rates over its active neurons.

    Parameters
    ----------
    rates : ndarray
        (n_images, n_neurons) rates (Hz) in each presentation.
    max_rate : float
        The neurons' highest rate (Hz).
    reference : ndarray, optional
        The same layer's rates in the reference run.

    Returns
    -------
    dict
        ``mean`` (all neurons), ``active`` (fraction of neuron-image pairs that
        spiked), ``active_mean`` and ``p50``/``p90``/``p99``/``max`` over the
        active pairs, ``saturated`` (fraction of active pairs above
        ``SATURATION * max_rate``); with a reference, ``rate_change`` (summed
        rates over the reference's active pairs divided by the reference's,
        minus 1) and ``abs_change_p90`` (90th percentile of the absolute rate
        difference over those pairs, Hz).
    """
    rates = np.asarray(rates, dtype=float)
    active = rates > 0
    on = rates[active]
    stats = {
        "mean": float(rates.mean()) if rates.size else 0.0,
        "active": float(active.mean()) if rates.size else 0.0,
        "active_mean": float(on.mean()) if on.size else 0.0,
        **{
            f"p{q}": float(np.percentile(on, q)) if on.size else 0.0
            for q in PERCENTILES
        },
        "max": float(on.max()) if on.size else 0.0,
        "saturated": float(np.mean(on >= SATURATION * max_rate)) if on.size else 0.0,
    }
    if reference is not None:
        ref_on = np.asarray(reference) > 0
        ref = np.asarray(reference, dtype=float)[ref_on]
        diff = rates[ref_on] - ref
        stats["rate_change"] = float(diff.sum() / ref.sum()) if ref.size else 0.0
        stats["abs_change_p90"] = (
            float(np.percentile(np.abs(diff), 90)) if diff.size else 0.0
        )
    return stats


@dataclasses.dataclass
class Diagnosis:
    """The runs of :func:`diagnose` and what they show.

    Attributes
    ----------
    runs : dict
        Run name -> ``{"error", "agreement", "readout_difference", "layers",
        "wall_time_s", "changes"}``; ``agreement`` and ``readout_difference``
        compare with the exact spiking run, ``layers`` holds
        :func:`layer_rate_statistics` per layer (spiking runs on the fast
        backend).
    ranking : list of dict
        The single chip changes, those that change the most predictions first
        (then the largest read-out difference): ``change``,
        ``error_change`` (error minus the exact network's), ``agreement``,
        ``readout_difference``, ``layer`` and ``rate_change`` (the layer whose
        rates change most, and by how much).
    quantisation : dict
        Per layer, how ``"weights"`` changes its weights (``rms_change``,
        ``zeroed``: see
        ``nengo_softlif.backends.loihi.changes.weight_quantisation``).
    n_images : int
    protocol : dict
    chip : dict
        The chip options the changes were made with: ``pool_relays`` (the
        pools that are relays: those ``pool_relays="auto"`` chose, or given),
        ``pool_spikes`` (input spikes per output spike of the other pools'
        counters),
        ``folded_pools``, ``input_rates`` and ``signed_input``; and ``dt``,
        the chip's time step (that of the chip changes and the emulator).
    """

    runs: dict
    ranking: list
    quantisation: dict
    n_images: int
    protocol: dict
    chip: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        """JSON-friendly dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict`."""
        required = {
            f.name: data[f.name]
            for f in dataclasses.fields(cls)
            if f.default_factory is dataclasses.MISSING
        }
        return cls(**required, chip=dict(data.get("chip", {})))

    def table(self):
        """The runs, the ranking and the per-layer rates as Markdown."""
        from nengo_softlif.evaluation.diagnosis_table import (  # noqa: PLC0415
            diagnosis_markdown,
        )

        return diagnosis_markdown(self)


def diagnose(
    net,
    images,
    labels,
    protocol=None,
    changes=None,
    emulator=False,
    static=True,
    minibatch_size=50,
    progress=False,
    chip_dt=None,
    **loihi_options,
):
    """Run a network as rates, exact spikes and with each chip change; compare.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A trained rate network, or a spiking one from
        :func:`nengo_softlif.to_spiking` (then there is no static run).
    images, labels : array_like
        Preprocessed test images and their classes (as for `.evaluate`).
    protocol : `.Protocol`, optional
        The spiking protocol (default: the paper's MNIST one).
    changes : list of str, optional
        Chip changes to run alone (default: all of
        :data:`~nengo_softlif.backends.loihi.CHIP_CHANGES`); all of them
        together are always run too. An empty list runs neither.
    emulator : bool
        Also run nengo-loihi's emulator (``target="sim"``; seconds per image).
    static : bool
        Run the static network as hard rates (rate networks only; nengo-dl).
    minibatch_size : int
        Parallel image streams of the fast backend (each begins with a warm-up
        image, so that every image follows its predecessor as on the emulator,
        which shows them in one stream).
    progress : bool
        Show progress bars.
    chip_dt : float, optional
        The chip's time step (s) for the chip changes and the emulator (default
        ``protocol.dt``; the static and exact runs keep ``protocol``'s). Loihi's
        neurons fire on whole steps and its relays pass one spike per step: a
        shorter step brings the chip closer to the exact network.
    **loihi_options
        :func:`~nengo_softlif.backends.loihi.to_loihi` options (``pool_relays``,
        ``pool_spikes``, ``synapse_tau``, ...), used by the chip changes and the
        emulator alike.

    Returns
    -------
    Diagnosis
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi import CHIP_CHANGES
    from nengo_softlif.backends.loihi.changes import weight_quantisation
    from nengo_softlif.network.convert import to_hard_rate, to_spiking

    protocol = Protocol() if protocol is None else protocol
    changes = _checked_changes(changes, CHIP_CHANGES)
    is_spiking = any(e.neuron_type.spiking for e in net.layer_ensembles.values())
    spiking = net if is_spiking else to_spiking(net)
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels)
    runner = _Runner(images, labels, protocol, minibatch_size, progress)
    chip_protocol = (
        protocol if chip_dt is None else dataclasses.replace(protocol, dt=chip_dt)
    )
    chip = {"dt": chip_protocol.dt}
    if static and not is_spiking:
        dl = {"backend": "nengo-dl", "minibatch_size": minibatch_size}
        runner.run_means("static (hard rates)", to_hard_rate(net), (), **dl)
    runner.run_fast("exact spiking", spiking, ())
    if changes:
        chosen, loihi_options = _run_chip_changes(
            runner, spiking, changes, loihi_options, chip_protocol
        )
        chip.update(chosen)
    if emulator:
        runner.run_means(
            "emulator (nengo-loihi)",
            spiking,
            ("emulator",),
            chip_protocol,
            backend="loihi",
            progress=progress,
            **loihi_options,
        )
    quantisation = weight_quantisation(spiking) if "weights" in changes else {}
    return Diagnosis(
        runs=runner.runs,
        ranking=_ranking(runner.runs, changes),
        quantisation=quantisation,
        n_images=len(labels),
        protocol=dataclasses.asdict(protocol),
        chip=chip,
    )


def _checked_changes(changes, known):
    """The chip changes to run (default: all ``known``); unknown ones refused."""
    changes = list(known) if changes is None else list(changes)
    unknown = sorted(set(changes) - set(known))
    if unknown:
        raise ValueError(
            f"Unknown chip change(s) {unknown}; the changes are {list(known)}"
        )
    return changes


def _run_chip_changes(runner, spiking, changes, loihi_options, protocol):
    """Run each change alone, then all of them at ``protocol``.

    Returns the record of the chip options they used, and ``loihi_options``
    with the pools chosen for the images (for the emulator).
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi import CHIP_CHANGES, apply_chip_changes, to_loihi
    from nengo_softlif.backends.loihi.changes import options_for_images

    options = options_for_images(
        spiking, runner.images, dict(loihi_options, protocol=protocol)
    )

    plan = to_loihi(spiking, **options).loihi_plan
    for change in changes:
        changed = apply_chip_changes(spiking, [change], plan=plan, **options)
        runner.run_fast(change, changed, (change,), protocol)
    everything = tuple(CHIP_CHANGES)
    chip_model = apply_chip_changes(spiking, everything, plan=plan, **options)
    runner.run_fast("all changes (chip model)", chip_model, everything, protocol)
    chip = {
        "pool_relays": sorted(plan.relay_pools),
        "pool_spikes": dict(plan.pool_spikes),
        "folded_pools": sorted(plan.folded_pools),
        "input_rates": plan.input_rates,
        "signed_input": plan.signed_input,
    }
    chosen = {key: options.get(key) for key in ("pool_relays", "pool_spikes")}
    return chip, dict(loihi_options, **chosen)


class _Runner:
    """Runs the networks on the same images and keeps what :class:`Diagnosis` holds."""

    def __init__(self, images, labels, protocol, minibatch_size, progress):
        self.images = images
        self.labels = labels
        self.protocol = protocol
        self.minibatch_size = minibatch_size
        self.progress = progress
        self.runs = {}
        self.exact = None  # (result, spike rates) of the exact spiking run

    def _record(self, name, result, layers, changes, started):
        exact = self.exact[0] if self.exact is not None else None
        self.runs[name] = {
            "error": result.error,
            "agreement": (
                float(np.mean(result.predictions == exact.predictions))
                if exact is not None
                else None
            ),
            "readout_difference": (
                readout_difference(result.outputs, exact.outputs)
                if exact is not None
                else None
            ),
            "layers": layers,
            "changes": list(changes),
            "wall_time_s": time.perf_counter() - started,
        }

    def run_means(self, name, net, changes, *protocol, **options):
        """A run whose layers report only their mean rates (static, emulator)."""
        started = time.perf_counter()
        result = evaluate(net, self.images, self.labels, *protocol, **options)
        layers = {k: {"mean": v} for k, v in result.layer_rates.items()}
        self._record(name, result, layers, changes, started)

    def run_fast(self, name, net, changes, protocol=None):
        """A spiking run on the fast backend, with its active neurons' rates."""
        protocol = self.protocol if protocol is None else protocol
        started = time.perf_counter()
        counts = {}
        result = evaluate(
            net,
            self.images,
            self.labels,
            protocol,
            backend="fast",
            progress=self.progress,
            minibatch_size=self.minibatch_size,
            spike_counts=counts,
            warm_up=True,
        )
        rates = {
            label: c / protocol.presentation_time
            for label, c in counts.items()
            if label in net.layers
        }
        types = {
            ens.label: ens.neuron_type
            for ens in net.all_ensembles
            if ens.label in rates
        }
        reference = self.exact[1] if self.exact is not None else {}
        layers = {
            label: layer_rate_statistics(
                r, _max_rate(types[label], protocol.dt), reference.get(label)
            )
            for label, r in rates.items()
        }
        if self.exact is None:
            self.exact = (result, rates)
        self._record(name, result, layers, changes, started)


def _ranking(runs, changes):
    """The single changes, most disruptive first.

    Ranked by the predictions they change (then by read-out difference): a change
    costs accuracy only through the predictions it changes, and on a sample of
    images its error change is the noisy balance of predictions lost and won.
    """
    exact = runs["exact spiking"]
    ranked = []
    for change in changes:
        run = runs[change]
        layer, rate_change = None, 0.0
        for name, stats in run["layers"].items():
            value = stats.get("rate_change", 0.0)
            if abs(value) > abs(rate_change):
                layer, rate_change = name, value
        ranked.append(
            {
                "change": change,
                "error_change": run["error"] - exact["error"],
                "agreement": run["agreement"],
                "readout_difference": run["readout_difference"],
                "layer": layer,
                "rate_change": rate_change,
            }
        )
    ranked.sort(key=lambda r: (r["agreement"], -r["readout_difference"]))
    return ranked
