"""Conversion of a spiking network into one that nengo-loihi can build.

:func:`to_loihi` makes the changes listed in the `nengo_softlif.backends.loihi`
documentation: off-chip input spike generators, average pools folded into the
next convolution or replaced by on-chip counters or relays, first-order synapses into the
chip, neurons that start at zero, and a block shape per on-chip layer (from
`nengo_softlif.backends.loihi.placement`).
"""

import nengo
import numpy as np
from nengo.dists import Choice

from nengo_softlif.backends.loihi._nengo_loihi import (
    nengo_loihi,
)
from nengo_softlif.backends.loihi.edit import remove_objects, update_layer_connections
from nengo_softlif.backends.loihi.placement import (
    LoihiPlacementError,
    LoihiPlan,
    choose_block_shapes,
)
from nengo_softlif.backends.loihi.pools import (
    POOL_MARGIN,
    fold_pool,
    foldable_pools,
    folded_conv,
    pool_counters,
)
from nengo_softlif.backends.loihi.pools import pool_relays as pool_relays_of
from nengo_softlif.backends.loihi.resources import connection_link, sparse_parts
from nengo_softlif.backends.loihi.synapses import loihi_synapse
from nengo_softlif.network.convert import copy_network
from nengo_softlif.network.layers import AvgPool
from nengo_softlif.network.merges import is_merge

__all__ = [
    "to_loihi",
    "add_input_spikes",
    "folded_conv",
    "POOL_MARGIN",
]


def _check_network(net):
    for attr in ("architecture", "layers", "inp", "out", "out_probe"):
        if not hasattr(net, attr):
            raise TypeError(
                "to_loihi needs a SoftLIFNetwork (from build_network / to_spiking / "
                f"load_network); {type(net).__name__} has no {attr!r}"
            )
    if getattr(net, "loihi_plan", None) is not None:
        raise ValueError("This network was already prepared by to_loihi")
    rate = sorted(
        f"{name} ({type(ens.neuron_type).__name__})"
        for name, ens in net.layer_ensembles.items()
        if not isinstance(ens.neuron_type, (nengo.LIF, nengo.SpikingRectifiedLinear))
    )
    if rate:
        spiking = any(ens.neuron_type.spiking for ens in net.layer_ensembles.values())
        raise TypeError(
            f"Loihi runs spiking LIF or SpikingRectifiedLinear neurons; layer(s) "
            f"{', '.join(rate)} are not. "
            + (
                "Train with SoftLIFRate (or RectifiedLinear) neurons to deploy on "
                "Loihi: their spiking equivalents run there"
                if spiking
                else "Convert the network with nengo_softlif.to_spiking first"
            )
        )
    _check_chain(net.architecture)
    if isinstance(net.architecture.layers[0], AvgPool):
        raise NotImplementedError(
            "An AvgPool directly on the input cannot run on Loihi: pool the images "
            "before presenting them, or start the architecture with a layer of neurons"
        )


def _check_chain(architecture):
    """Refuse graphs (merges, skips) and linear layers: Loihi runs chains."""
    names = architecture.layer_names()
    previous = ["input", *names]
    for i, (spec, name, inputs) in enumerate(
        zip(architecture.layers, names, architecture.layer_inputs(), strict=True)
    ):
        kind = type(spec).__name__
        if is_merge(spec):
            why = f"layer {name!r} ({kind}) merges {list(inputs)}"
        elif inputs != (previous[i],):
            why = f"layer {name!r} ({kind}) reads {inputs[0]!r}, not the layer before"
        elif not getattr(spec, "neurons", True):
            why = f"layer {name!r} ({kind}) is linear (neurons=False)"
        else:
            continue
        raise NotImplementedError(
            f"Loihi runs chains of layers of neurons (one incoming connection per "
            f"layer), but {why}. Evaluate this network on the 'fast', 'nengo-dl' "
            "or 'nengo' backend instead"
        )


def _on_off_generators(input_shape, n_in):
    """Index of the on and the off generator of every input.

    Channels-last images get, per pixel, the on generators of all channels then
    the off ones (so the first convolution sees ``2 * channels`` channels); any
    other input shape is one channel.
    """
    channels = input_shape[-1] if len(input_shape) == 3 else 1
    flat = np.arange(n_in)
    on = (flat // channels) * 2 * channels + flat % channels
    return on, on + channels


def _signed_transform(conn, input_shape, n_in):
    """The transform from on/off generators (2 per input, channels-last) to post."""
    transform = conn.transform
    on, off = _on_off_generators(input_shape, n_in)
    if isinstance(transform, nengo.Convolution):
        kernel = np.asarray(transform.init)
        height, width = transform.input_shape.spatial_shape
        return nengo.Convolution(
            n_filters=transform.n_filters,
            input_shape=(height, width, 2 * transform.input_shape.n_channels),
            kernel_size=transform.kernel_size,
            strides=transform.strides,
            padding=transform.padding,
            channels_last=True,
            init=np.concatenate([kernel, -kernel], axis=2),
        )
    if isinstance(transform, nengo.Dense) and np.ndim(transform.init) == 2:
        weights = np.asarray(transform.init)
        signed = np.zeros((weights.shape[0], 2 * n_in))
        signed[:, on] = weights
        signed[:, off] = -weights
        return nengo.Dense(signed.shape, init=signed)
    n_post = transform.size_out if hasattr(transform, "size_out") else n_in
    rows, cols, values = sparse_parts(conn)
    return nengo.Sparse(
        (n_post, 2 * n_in),
        indices=np.concatenate(
            [np.stack([rows, on[cols]], 1), np.stack([rows, off[cols]], 1)]
        ),
        init=np.concatenate([values, -values]),
    )


def _lif_starting_at_zero(neuron_type):
    """The same neuron type, with the chip's zero initial voltage."""
    params = {
        p.name: getattr(neuron_type, p.name)
        for p in neuron_type._params  # noqa: SLF001
        if p.name != "initial_state"
    }
    state = {"voltage": Choice([0])}
    if isinstance(neuron_type, nengo.LIF):
        state["refractory_time"] = Choice([0])
    return type(neuron_type)(initial_state=state, **params)


def add_input_spikes(net, signed, input_rates, input_synapse):
    """Put off-chip spike generators between the input node and the first layer.

    Returns the generators' ensemble (`nengo.SpikingRectifiedLinear`, firing at
    ``input_rates`` per unit of input; an on and an off generator per input if
    ``signed``); its connections into the network have ``input_synapse``.
    """
    inp = net.inp
    n_in = inp.size_out
    n_gen = 2 * n_in if signed else n_in
    out_conns = [c for c in net.all_connections if c.pre_obj is inp]
    with net:
        gen = nengo.Ensemble(
            n_gen,
            1,
            neuron_type=nengo.SpikingRectifiedLinear(amplitude=1.0 / input_rates),
            gain=np.full(n_gen, float(input_rates)),
            bias=np.zeros(n_gen),
            label="input.spikes",
        )
        net.config[gen].on_chip = False
        if signed:
            flat = np.arange(n_in)
            on, off = _on_off_generators(net.architecture.input_shape, n_in)
            to_gen = nengo.Sparse(
                (n_gen, n_in),
                indices=np.concatenate(
                    [np.stack([on, flat], 1), np.stack([off, flat], 1)]
                ),
                init=np.concatenate([np.ones(n_in), -np.ones(n_in)]),
            )
        else:
            to_gen = nengo.transforms.NoTransform(n_in)
        nengo.Connection(
            inp, gen.neurons, transform=to_gen, synapse=None, label="input.to_spikes"
        )
        replaced = {}
        for conn in out_conns:
            transform = conn.transform
            if signed:
                transform = _signed_transform(conn, net.architecture.input_shape, n_in)
            replaced[conn] = nengo.Connection(
                gen.neurons,
                conn.post,
                transform=transform,
                synapse=input_synapse,
                label=conn.label,
            )
    remove_objects(net, out_conns)
    update_layer_connections(net, replaced)
    return gen


def to_loihi(
    spiking_net,
    synapse_tau=None,
    block_shapes=None,
    input_rates=1000.0,
    signed_input=False,
    input_synapse=nengo.Lowpass(0.005),
    fold_pooling=True,
    pool_spikes=None,
    pool_relays=False,
    copy=True,
):
    """A copy of a spiking network, ready for `nengo_loihi.Simulator`.

    See the `nengo_softlif.backends.loihi` documentation for every change. The result keeps the
    attributes of a `.SoftLIFNetwork` (``inp``, ``out``, ``out_probe``,
    ``layers``, ``layer_ensembles``, ``architecture``) and adds ``loihi_plan``
    (a `.LoihiPlan`).

    Parameters
    ----------
    spiking_net : `.SoftLIFNetwork`
        A spiking network (:func:`nengo_softlif.to_spiking`) of LIF or spiking
        rectified-linear neurons.
    synapse_tau : float, optional
        Time constant of the low-pass that replaces each alpha synapse on the
        chip; by default twice the alpha's (see :func:`loihi_synapse`).
    block_shapes : dict of str -> tuple, optional
        Block shape of some on-chip layers (by layer name, pool counters by the
        pool's name); the others are chosen by :func:`choose_block_shapes`.
    input_rates : float
        Firing rate (Hz) of an input spike generator for an input of 1. Loihi
        receives at most one spike per generator and step, so keep
        ``input_rates * max|input| <= 1 / dt``.
    signed_input : bool
        Use an on and an off generator per input (needed when inputs can be
        negative, e.g. mean-subtracted images).
    input_synapse : `nengo.Lowpass` or None
        Filter of the input spikes into the first layer (the first layer's core
        filter; nengo has none there, its input is analog). 5 ms smooths the
        generators' ripple.
    fold_pooling : bool
        Fold each average pooling that tiles its input exactly into the
        convolution after it (exact, no counters), unless the folded layer cannot
        be placed; other pools become counters.
    pool_spikes : int or dict of str -> int, optional
        Input spikes per output spike of a pool counter over the largest window
        (by default the window size: the counter fires at the mean rate); a dict
        gives it per pool (by name). Smaller values send more, smaller spikes
        (less shot noise downstream, less count carried into the next image) but
        lose more spikes that arrive in the same step; every window must count
        a whole number of spikes, so pools with clipped windows need the default
        (see `.AvgPool` ``edges`` and
        `~nengo_softlif.backends.loihi.counter_sizes`).
    pool_relays : bool or collection of str
        Pools (by name; True: every pool that is not folded) that become
        one-spike relays instead of counters (the default, False): a relay fires once per input
        spike, with spikes of ``1 / n_max`` of the input amplitude, so that the
        next layer receives as many (smaller) spikes as the pool's inputs send
        and no count is left over between images. Counters fire once per
        ``n_max`` input spikes: on slow inputs they send a few large spikes
        and carry their count into the next image. A window clipped at the
        edge of the image averages over ``n_max`` inputs in a relay (the
        missing ones zero); two input spikes of one window in the same step
        make one relay spike.
    copy : bool
        Work on a copy (True) or change ``spiking_net`` in place (after the same
        conversion succeeded on a scratch copy: an error leaves it unchanged).

    Returns
    -------
    `.SoftLIFNetwork`

    Raises
    ------
    LoihiPlacementError
        If a layer cannot be split into blocks that fit Loihi cores.
    TypeError
        For rate neurons, unsupported synapses or a network of another kind.
    """
    _check_network(spiking_net)
    if not input_rates > 0:
        raise ValueError(f"input_rates must be > 0 (got {input_rates})")
    options = dict(
        synapse_tau=synapse_tau,
        block_shapes=block_shapes,
        input_rates=input_rates,
        signed_input=signed_input,
        input_synapse=input_synapse,
        pool_spikes=pool_spikes,
        pool_relays=pool_relays_of(spiking_net, pool_relays),
    )
    fold = foldable_pools(spiking_net) if fold_pooling else {}
    trial = _convert_copy_that_fits(spiking_net, fold, options)
    if copy:
        trial.label = f"{spiking_net.label} (loihi)"
        return trial
    net = _convert(spiking_net, fold, **options)  # as on the copy: it fits
    net.label = f"{spiking_net.label} (loihi)"
    return net


def _convert_copy_that_fits(net, fold, options):
    """Convert a copy of ``net``, unfolding pools of ``fold`` until it fits.

    Converting a scratch copy leaves ``net`` untouched when an error is raised.
    A pool is unfolded (removed from ``fold``, in place) when its folded layer,
    or the layer feeding it (more output axons), does not fit; other placement
    errors are raised.
    """
    names = net.architecture.layer_names()
    pool_input = {name: names[names.index(name) - 1] for name in fold}
    while True:
        try:
            return _convert(copy_network(net), fold, **options)
        except LoihiPlacementError as err:
            pools = [
                pool
                for pool, layer in fold.items()
                if err.layer in (layer, pool_input[pool])
            ]
            if not pools:
                raise
            del fold[pools[0]]


def _convert(
    net,
    fold,
    synapse_tau,
    block_shapes,
    input_rates,
    signed_input,
    input_synapse,
    pool_spikes,
    pool_relays,
):
    """Change ``net`` in place for nengo-loihi (see `to_loihi`)."""
    nengo_loihi.add_params(net)
    names = net.architecture.layer_names()
    shapes = {name: tuple(net.layers[name].shape) for name in names}

    gen = add_input_spikes(net, signed_input, input_rates, input_synapse)
    chip, counter_spikes = _chip_layers(net, fold, shapes, pool_spikes, pool_relays)
    synapses, incoming = _chip_synapses(net, chip, synapse_tau)
    placements = _place_layers(net, chip, incoming, shapes, block_shapes)
    net.loihi_plan = LoihiPlan(
        layers=placements,
        input_rates=float(input_rates),
        signed_input=bool(signed_input),
        synapses=synapses,
        ensembles=chip,
        input_ensemble=gen,
        folded_pools=dict(fold),
        relay_pools=frozenset(pool_relays - set(fold)),
        pool_spikes=counter_spikes,
    )
    return net


def _chip_layers(net, fold, shapes, pool_spikes, pool_relays):
    """Fold or replace the pools, start the neurons at zero: on-chip ensembles.

    Returns the on-chip ensembles (layers, pool counters and relays) by layer
    name, in the order of the layers, and the input spikes per output spike of
    each pool of counters.
    """
    names = net.architecture.layer_names()
    specs = net.architecture.layers
    chip, counter_spikes = {}, {}
    for i, (name, spec) in enumerate(zip(names, specs, strict=True)):
        built = net.layers[name]
        if isinstance(spec, AvgPool):
            if name in fold:
                fold_pool(
                    net,
                    name,
                    spec,
                    built,
                    net.layers[names[i + 1]],
                    shapes[names[i - 1]],
                )
            else:
                chip[name], spikes = pool_counters(
                    net, name, built, pool_spikes, relay=name in pool_relays
                )
                if spikes is not None:
                    counter_spikes[name] = spikes
        elif built.ensemble is not None:
            ens = built.ensemble
            ens.neuron_type = _lif_starting_at_zero(ens.neuron_type)
            chip[name] = ens
    return chip, counter_spikes


def _chip_synapses(net, chip, synapse_tau):
    """First-order low-pass synapses into the chip (unchanged into the host).

    Returns the changed synapses (connection label -> (old, new), as strings)
    and the connections into each on-chip ensemble.
    """
    chip_objs = set(chip.values())
    synapses = {}
    incoming = {}
    for conn in net.all_connections:
        post = (
            conn.post_obj.ensemble
            if isinstance(conn.post_obj, nengo.ensemble.Neurons)
            else conn.post_obj
        )
        if post in chip_objs:
            new = loihi_synapse(conn.synapse, synapse_tau)
            if new is not conn.synapse:
                synapses[str(conn.label)] = (str(conn.synapse), str(new))
                conn.synapse = new
            incoming.setdefault(post, []).append(conn)
    return synapses, incoming


def _place_layers(net, chip, incoming, shapes, block_shapes):
    """Choose (or check) the block shape of every on-chip ensemble and set it."""
    ens_names = {ens: name for name, ens in chip.items()}
    layers = []
    for name, ens in chip.items():
        conns = incoming.get(ens, [])
        if len(conns) != 1 or not isinstance(conns[0].post_obj, nengo.ensemble.Neurons):
            raise NotImplementedError(
                f"Layer {name!r} must receive exactly one connection into its neurons"
            )
        conn = conns[0]
        pre = (
            conn.pre_obj.ensemble
            if isinstance(conn.pre_obj, nengo.ensemble.Neurons)
            else None
        )
        layers.append((name, shapes[name], connection_link(conn), ens_names.get(pre)))
    unknown = sorted(set(block_shapes or {}) - set(chip))
    if unknown:
        raise ValueError(
            f"block_shapes names unknown on-chip layer(s) {unknown}; the on-chip "
            f"layers are {list(chip)}"
        )
    placements = choose_block_shapes(layers, fixed=block_shapes)
    for name, ens in chip.items():
        net.config[ens].block_shape = nengo_loihi.BlockShape(
            placements[name].block_shape, shapes[name]
        )
    return placements
