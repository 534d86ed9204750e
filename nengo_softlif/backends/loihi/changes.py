"""The chip's changes to a spiking network, one at a time, as network edits.

:func:`to_loihi` makes every change at once and nengo-loihi makes the rest when
it builds the network (Loihi's discrete LIF, integer weights). To see what each
costs, :func:`apply_chip_changes` makes any of them, alone or together, on a
copy of an exact spiking network, as a nengo network that the ``"fast"`` backend
(and nengo's simulators) run:

``"pools"``
    Average pools as :func:`to_loihi` builds them: folded into the next
    convolution, or on-chip counters or one-spike relays
    (`LoihiSpikingRectifiedLinear` neurons, one step of delay).
``"neurons"``
    `nengo.LIF` becomes nengo-loihi's `LoihiLIF` (periods of whole time steps,
    the chip's discretised ``tau_rc`` and ``tau_ref``), starting at zero
    voltage as on the chip.
``"input"``
    The input as spikes: off-chip spike generators (on and off neurons for
    signed inputs) and a low-pass synapse into the first layer.
``"synapses"``
    Loihi's first-order synapse: every alpha synapse on the way to a layer
    becomes ``Lowpass(2 tau)`` (:func:`loihi_synapse`); the read-out keeps its
    alpha synapse (the host filters it).
``"weights"``
    Integer weights: the weights of every connection into a layer rounded to
    255 levels over their largest magnitude (8-bit signed weights, one scale per
    connection; nengo-loihi chooses a scale per core and a power-of-two shift
    per synapse, which :func:`quantisation_report` measures on the real
    blocks). Biases keep their values (the chip's are 12-bit and more).

``apply_chip_changes(net, CHIP_CHANGES)`` is a model of the whole chip; its
agreement with the emulator (``target="sim"``) is measured in
``docs/results/loihi.md``.
"""

import nengo
import numpy as np
from nengo.dists import Choice

from nengo_softlif.backends.loihi._nengo_loihi import (
    LoihiLIF,
    LoihiSpikingRectifiedLinear,
    nengo_loihi,
)
from nengo_softlif.backends.loihi.conversion import add_input_spikes, to_loihi
from nengo_softlif.backends.loihi.pools import fold_pool, pool_counters
from nengo_softlif.backends.loihi.synapses import loihi_synapse
from nengo_softlif.network.checkpoint import transform_values, with_transform_values
from nengo_softlif.network.convert import copy_network
from nengo_softlif.network.layers import AvgPool
from nengo_softlif.registry import Registry

__all__ = [
    "CHIP_CHANGES",
    "apply_chip_changes",
    "options_for_images",
    "quantised_weights",
    "weight_quantisation",
]

#: Name -> function ``change(net, plan, options)`` that edits ``net`` in place.
CHIP_CHANGES = Registry("chip change")

#: Levels of a signed 8-bit weight on each side of zero.
WEIGHT_LEVELS = 127


def apply_chip_changes(net, changes, plan=None, images=None, **options):
    """A copy of a spiking network with some of the chip's changes made.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        An exact spiking network (:func:`nengo_softlif.to_spiking`).
    changes : collection of str
        Names in :data:`CHIP_CHANGES` (the module documentation describes
        them), applied in the order of :data:`CHIP_CHANGES`.
    plan : `.LoihiPlan`, optional
        The plan of :func:`to_loihi` on ``net`` with the same ``options``
        (which pools it folds and which become relays); made if not given.
    images : ndarray, optional
        The images that will be presented: they set the input generators'
        rate and sign as the ``"loihi"`` backend sets them.
    **options
        :func:`to_loihi` options (``pool_relays``, ``pool_spikes``,
        ``synapse_tau``, ``input_rates``, ``signed_input``, ``input_synapse``,
        ``fold_pooling``).

    Returns
    -------
    `.SoftLIFNetwork`
        The changed copy; ``chip_changes`` lists what was changed.
    """
    unknown = sorted(set(changes) - set(CHIP_CHANGES))
    if unknown:
        raise ValueError(
            f"Unknown chip change(s) {unknown}; the changes are {list(CHIP_CHANGES)}"
        )
    options = options_for_images(net, images, options)
    if plan is None and changes:
        plan = to_loihi(net, **options).loihi_plan
    changed = copy_network(net)
    nengo_loihi.add_params(changed)
    for name, change in CHIP_CHANGES.items():
        if name in changes:
            change(changed, plan, options)
    changed.chip_changes = tuple(n for n in CHIP_CHANGES if n in changes)
    return changed


def options_for_images(net, images, options):
    """:func:`to_loihi` options completed for the images that will be shown.

    As the ``"loihi"`` backend completes them: the input generators' rate and
    sign (``choose_input_options``: the largest input fires once per step,
    signed generators if any input is negative), and ``pool_relays="auto"``
    chosen by measurement (relays and counters' sizes, :func:`choose_pools`). A
    ``protocol`` entry
    (its ``dt``) is used and removed. Without images, only ``protocol`` is
    removed, and ``"auto"`` is refused.
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi.pool_choice import with_chosen_pools
    from nengo_softlif.backends.loihi.simulation import choose_input_options
    from nengo_softlif.evaluation.runner import Protocol

    options = dict(options)
    protocol = options.pop("protocol", None)
    protocol = Protocol() if protocol is None else protocol
    if images is None:
        if options.get("pool_relays") == "auto":
            raise ValueError(
                "pool_relays='auto' chooses by running images: give the images "
                "(or choose_pools(net, images) and pass its options())"
            )
        return options
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    rates, signed = choose_input_options(
        flat, protocol, options.get("input_rates"), options.get("signed_input")
    )
    options.update(input_rates=rates, signed_input=signed)
    return with_chosen_pools(net, flat, protocol, options)


@CHIP_CHANGES.register("pools")
def _pools(net, plan, options):
    names = net.architecture.layer_names()
    for i, (name, spec) in enumerate(zip(names, net.architecture.layers, strict=True)):
        if not isinstance(spec, AvgPool):
            continue
        built = net.layers[name]
        if name in plan.folded_pools:
            in_shape = tuple(net.layers[names[i - 1]].shape)
            fold_pool(net, name, spec, built, net.layers[names[i + 1]], in_shape)
        else:
            pool_counters(
                net,
                name,
                built,
                plan.pool_spikes.get(name),
                relay=name in plan.relay_pools,
            )


@CHIP_CHANGES.register("input")
def _input(net, plan, options):
    add_input_spikes(
        net,
        plan.signed_input,
        plan.input_rates,
        options.get("input_synapse", nengo.Lowpass(0.005)),
    )


@CHIP_CHANGES.register("synapses")
def _synapses(net, plan, options):
    del plan
    for conn in net.all_connections:
        if conn.post_obj is not net.out:  # the host filters the read-out
            conn.synapse = loihi_synapse(conn.synapse, options.get("synapse_tau"))


@CHIP_CHANGES.register("neurons")
def _neurons(net, plan, options):
    del plan, options
    for ens in net.layer_ensembles.values():
        nt = ens.neuron_type
        if type(nt) is nengo.LIF:
            ens.neuron_type = LoihiLIF(
                tau_rc=nt.tau_rc,
                tau_ref=nt.tau_ref,
                amplitude=nt.amplitude,
                initial_state={"voltage": Choice([0]), "refractory_time": Choice([0])},
            )
        elif type(nt) is nengo.SpikingRectifiedLinear:
            ens.neuron_type = LoihiSpikingRectifiedLinear(amplitude=nt.amplitude)


@CHIP_CHANGES.register("weights")
def _weights(net, plan, options):
    del plan, options
    targets = {ens.neurons for ens in net.layer_ensembles.values()}
    for conn in net.all_connections:
        if conn.post_obj in targets:
            conn.transform = quantised_weights(conn.transform)


def quantised_weights(transform):
    """``transform`` with its weights rounded to 8-bit signed integer levels.

    The weights are rounded to multiples of ``max|w| / 127``; transforms without
    weights (`nengo.transforms.NoTransform`, scalars) are returned unchanged.
    """
    if not _has_weights(transform):
        return transform
    return with_transform_values(transform, _rounded(transform_values(transform)))


def _has_weights(transform):
    return isinstance(transform, (nengo.Convolution, nengo.Sparse)) or (
        isinstance(transform, nengo.Dense) and np.ndim(transform.init) == 2
    )


def _rounded(weights):
    w_max = float(np.abs(weights).max(initial=0.0))
    if w_max == 0:
        return weights
    step = w_max / WEIGHT_LEVELS
    return np.round(weights / step) * step


def weight_quantisation(net):
    """How ``"weights"`` changes each layer's incoming weights.

    Returns
    -------
    dict of str -> dict
        Layer name -> ``rms_change`` (``rms(quantised - w) / rms(w)``) and
        ``zeroed`` (the fraction of nonzero weights that become zero: large when
        a few outlying weights set the scale), over the weights of the
        connections into its neurons.
    """
    errors = {}
    for name, ens in net.layer_ensembles.items():
        err2 = ref2 = 0.0
        zeroed = nonzero = 0
        for conn in net.all_connections:
            if conn.post_obj != ens.neurons:
                continue
            if not _has_weights(conn.transform):
                continue
            before = transform_values(conn.transform)
            after = transform_values(quantised_weights(conn.transform))
            err2 += float(((after - before) ** 2).sum())
            ref2 += float((before**2).sum())
            nonzero += int(np.count_nonzero(before))
            zeroed += int(np.count_nonzero((before != 0) & (after == 0)))
        if ref2 > 0:
            errors[name] = {
                "rms_change": float(np.sqrt(err2 / ref2)),
                "zeroed": zeroed / nonzero,
            }
    return errors
