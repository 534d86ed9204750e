"""Convert a trained rate network into a spiking one: :func:`to_spiking`."""

import warnings

import nengo

from nengo_softlif import registry
from nengo_softlif.neurons.refractory_relu import (
    RefractoryRectifiedLinear,
    SoftRefractoryRectifiedLinear,
)
from nengo_softlif.neurons.softlif import RectifiedLinear, SoftLIFRate

__all__ = [
    "to_spiking",
    "to_hard_rate",
    "convert_neurons",
    "copy_network",
    "SPIKING_EQUIVALENTS",
    "HARD_EQUIVALENTS",
    "register_spiking_equivalent",
]


def _lif_kwargs(neuron_type):
    return dict(
        tau_rc=neuron_type.tau_rc,
        tau_ref=neuron_type.tau_ref,
        amplitude=neuron_type.amplitude,
    )


def _lif_from_rate(neuron_type):
    return nengo.LIF(**_lif_kwargs(neuron_type))


def _spiking_relu_from_rate(neuron_type):
    return nengo.SpikingRectifiedLinear(amplitude=neuron_type.amplitude)


def _regular_spiking_refractory_relu(neuron_type):
    return nengo.RegularSpiking(
        RefractoryRectifiedLinear(tau_ref=neuron_type.tau_ref),
        amplitude=neuron_type.amplitude,
    )


def _hard_lif(neuron_type):
    return nengo.LIFRate(**_lif_kwargs(neuron_type))


def _hard_refractory_relu(neuron_type):
    return RefractoryRectifiedLinear(
        tau_ref=neuron_type.tau_ref, amplitude=neuron_type.amplitude
    )


#: Rate neuron type -> function returning its spiking equivalent. The mapping is
#: by exact type; a subclass needs its own entry.
SPIKING_EQUIVALENTS = registry.Registry(
    "spiking equivalent",
    {
        SoftLIFRate: _lif_from_rate,
        nengo.LIFRate: _lif_from_rate,
        nengo.RectifiedLinear: _spiking_relu_from_rate,
        RectifiedLinear: _spiking_relu_from_rate,
        SoftRefractoryRectifiedLinear: _regular_spiking_refractory_relu,
        RefractoryRectifiedLinear: _regular_spiking_refractory_relu,
    },
)

#: Smoothed rate neuron type -> function returning the hard rate neuron whose rate
#: is the mean rate of its spiking equivalent (used by :func:`to_hard_rate`).
HARD_EQUIVALENTS = registry.Registry(
    "hard equivalent",
    {
        SoftLIFRate: _hard_lif,
        SoftRefractoryRectifiedLinear: _hard_refractory_relu,
    },
)


def register_spiking_equivalent(rate_type, make_spiking):
    """Declare how :func:`to_spiking` converts a rate neuron type.

    Parameters
    ----------
    rate_type : type
        A `nengo.neurons.NeuronType` subclass.
    make_spiking : callable
        ``make_spiking(rate_neuron) -> spiking_neuron`` with the same parameters.
    """
    registry.add(SPIKING_EQUIVALENTS, rate_type, make_spiking, "spiking equivalent")


def to_spiking(network, synapse=nengo.Alpha(0.005), neuron_types=None):
    """A spiking copy of a rate network, with the same weights.

    Every `.SoftLIFRate` (or `nengo.LIFRate`) becomes `nengo.LIF` with the same
    ``tau_rc``, ``tau_ref`` and ``amplitude``; gains, biases and all connection
    weights are copied unchanged; training noise is gone (`nengo.LIF` has none);
    every connection leaving neurons gets ``synapse``. The original network is
    left untouched.

    Parameters
    ----------
    network : `nengo.Network`
        The trained rate network (e.g. after ``sim.freeze_params(network)``).
    synapse : `nengo.synapses.Synapse` or None
        Filter on every connection leaving neurons (the paper: ``Alpha(0.005)``).
    neuron_types : dict, optional
        Extra or overriding entries for :data:`SPIKING_EQUIVALENTS`.

    Returns
    -------
    `nengo.Network`
        A new network of the same class, with the same attributes (``inp``,
        ``out``, ``layers`` ...) pointing at its own objects.

    Raises
    ------
    TypeError
        If an ensemble has a neuron type without a spiking equivalent.
    """
    _check_network(network, "to_spiking")
    equivalents = dict(SPIKING_EQUIVALENTS)
    equivalents.update(neuron_types or {})
    tensor_nodes = sorted(
        str(node.label or node)
        for node in network.all_nodes
        if type(node).__name__ == "TensorNode"
    )
    if tensor_nodes:
        raise TypeError(
            f"Cannot convert {', '.join(tensor_nodes)} to spikes: nengo-dl "
            "TensorNodes (such as MaxPool layers) have no spiking equivalent; use "
            "AvgPool layers in networks meant to spike"
        )
    spiking = convert_neurons(network, equivalents, what="spiking")
    for conn in spiking.all_connections:
        if isinstance(conn.pre_obj, nengo.ensemble.Neurons):
            conn.synapse = synapse
    spiking.label = f"{network.label} (spiking)"
    return spiking


def to_hard_rate(network):
    """A copy in which every smoothed neuron is its hard counterpart.

    `.SoftLIFRate` becomes `nengo.LIFRate` (see :data:`HARD_EQUIVALENTS`). The hard
    rate is the mean rate of the spiking neuron, so this is the network a spiking
    run should be compared with; soft against hard is a separate difference (the
    soft curve is above the hard one near threshold).
    """
    _check_network(network, "to_hard_rate")
    spiking = sorted(
        str(ens.label or ens)
        for ens in network.all_ensembles
        if ens.neuron_type.spiking
    )
    if spiking:
        raise TypeError(
            f"to_hard_rate needs a rate network, but {', '.join(spiking[:3])} already "
            "spike; pass the trained rate network (the one given to to_spiking)"
        )
    rate = convert_neurons(network, HARD_EQUIVALENTS, what="hard-rate")
    rate.label = f"{network.label} (hard rate)"
    return rate


def _check_network(network, what):
    if not isinstance(network, nengo.Network):
        raise TypeError(
            f"{what} needs a nengo.Network (e.g. from build_network or "
            f"load_network), got {type(network).__name__}"
        )


def convert_neurons(network, mapping, what="converted"):
    """A copy of ``network`` with neuron types replaced by ``mapping[type](old)``.

    Ensembles whose (non-spiking) type is not in ``mapping`` raise a TypeError
    naming them; spiking ensembles are kept as they are.
    """
    unsupported = sorted(
        {
            f"{ens.label or ens} ({type(ens.neuron_type).__name__})"
            for ens in network.all_ensembles
            if type(ens.neuron_type) not in mapping and not ens.neuron_type.spiking
        }
    )
    if unsupported:
        raise TypeError(
            f"No {what} equivalent for the neurons of {', '.join(unsupported)}; "
            f"supported types are {sorted(t.__name__ for t in mapping)}. Add one "
            "with register_spiking_equivalent(RateType, make_spiking)"
        )
    converted = copy_network(network)
    for ens in converted.all_ensembles:
        if not ens.neuron_type.spiking:
            ens.neuron_type = mapping[type(ens.neuron_type)](ens.neuron_type)
    return converted


def copy_network(network):
    """A deep copy of a network (its attributes point at the copied objects)."""
    with warnings.catch_warnings():
        # nengo warns when copying nodes with size_in and no output; harmless
        warnings.simplefilter("ignore", UserWarning)
        return network.copy()
