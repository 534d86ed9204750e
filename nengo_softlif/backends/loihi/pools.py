"""Average pooling on Loihi: folded into the next convolution, or on-chip
counters or one-spike relays (see `nengo_softlif.backends.loihi`)."""

from collections.abc import Mapping

import nengo
import numpy as np

from nengo_softlif.backends.loihi._nengo_loihi import LoihiSpikingRectifiedLinear
from nengo_softlif.backends.loihi.edit import remove_objects, update_layer_connections
from nengo_softlif.backends.loihi.resources import sparse_parts
from nengo_softlif.network.layers import AvgPool

__all__ = [
    "POOL_MARGIN",
    "counter_sizes",
    "folded_conv",
    "pool_counters",
    "pool_relays",
    "foldable_pools",
    "fold_pool",
]


#: A pool counter over n inputs gets (1 + POOL_MARGIN / n) / n of its threshold per
#: input spike: n spikes cross the (strict) threshold despite 8-bit weights, n - 1
#: do not.
POOL_MARGIN = 0.25


def pool_counters(net, name, built, pool_spikes=None, relay=False):
    """Replace a pooling node by on-chip counters or relays.

    Returns the new ensemble and the input spikes per output spike of its
    counters (None for relays). ``pool_spikes`` may be a dict by pool name.

    A counter over a window that divides by ``d`` (the ``n`` inputs it covers for
    clipped edges, the full window ``n_max`` for padded ones) fires once per
    ``k_i = pool_spikes * d / n_max`` input spikes, with spikes of amplitude
    ``pool_spikes * a / n_max``: its output averages to the window's average
    ``a * sum(rates) / d``. A relay (``relay=True``) fires once per input spike,
    with spikes of amplitude ``a / n_max``: exact for padded edges; a window
    clipped at the edge (``n < n_max``) then averages over ``n_max`` inputs, the
    missing ones zero.
    """
    node, conn_in = built.output, built.connection
    pre = conn_in.pre_obj
    if not isinstance(pre, nengo.ensemble.Neurons):
        raise NotImplementedError(
            f"Pooling layer {name!r} must follow a layer of neurons"
        )
    amplitude = getattr(pre.ensemble.neuron_type, "amplitude", 1.0)
    divisors, n_max = _windows(name, conn_in)
    if isinstance(pool_spikes, Mapping):
        pool_spikes = pool_spikes.get(name)
    if relay:
        pool_spikes = 1
    elif pool_spikes is None:
        pool_spikes = n_max
    per_spike = pool_spikes * divisors / n_max  # input spikes per output spike
    if relay:
        per_spike = np.ones_like(per_spike)
    elif pool_spikes < 1 or not _whole(per_spike):
        raise ValueError(
            f"pool_spikes={pool_spikes} for pooling layer {name!r}: every window "
            f"must count a whole number of input spikes per output spike "
            f"(windows that divide by {sorted(set(divisors.tolist()))}); use "
            f"pool_spikes={n_max} (count to the window size), a value that "
            f"divides evenly, or pool_relays=[{name!r}]"
        )
    per_spike = np.round(per_spike)
    out_conns = [c for c in net.all_connections if c.pre_obj is node]
    with net:
        ens = nengo.Ensemble(
            node.size_in,
            1,
            neuron_type=LoihiSpikingRectifiedLinear(
                amplitude=pool_spikes * amplitude / n_max
            ),
            gain=divisors * (1.0 + POOL_MARGIN / per_spike) / (per_spike * amplitude),
            bias=np.zeros(node.size_in),
            label=name,
        )
        nengo.Connection(
            conn_in.pre,
            ens.neurons,
            transform=conn_in.transform,
            synapse=None,
            label=conn_in.label,
        )
        replaced = {}
        for conn in out_conns:
            synapse = conn_in.synapse if conn.synapse is None else conn.synapse
            replaced[conn] = nengo.Connection(
                ens.neurons,
                conn.post,
                transform=conn.transform,
                synapse=synapse,
                label=conn.label,
            )
    remove_objects(net, [node, conn_in, *out_conns])
    update_layer_connections(net, replaced)
    built.output = ens.neurons
    built.connection = None
    return ens, (None if relay else int(pool_spikes))


def counter_sizes(net, pool):
    """The input spikes per output spike that counters of ``pool`` can count.

    Every window of the pool must count a whole number of input spikes per
    output spike: any ``k`` from 1 to the window size when the windows divide
    by the full window, multiples of it when clipped windows divide by fewer.
    """
    divisors, n_max = _windows(pool, net.layers[pool].connection)
    return [k for k in range(1, n_max + 1) if _whole(k * divisors / n_max)]


def _windows(name, conn):
    """What each window of a pooling connection divides by (the inputs it
    covers, or the largest window's ``n_max`` for padded edges), and ``n_max``."""
    rows, _, values = sparse_parts(conn)
    counts = np.bincount(rows, minlength=conn.size_out)
    if np.any(counts == 0):
        raise ValueError(f"Pooling layer {name!r} has outputs without inputs")
    n_max = int(counts.max())
    for divisors in (counts, np.full_like(counts, n_max)):
        if np.allclose(values, 1.0 / divisors[rows]):
            return divisors, n_max
    raise ValueError(f"Pooling layer {name!r} does not average its windows")


def _whole(values):
    return np.allclose(values, np.round(values))


def folded_conv(pool, in_shape, conv):
    """The convolution equal to average pooling then ``conv``, or None.

    Exact when the pool tiles its input (size = stride, no clipped window) and
    the convolution's padding maps onto whole pooling windows: pooling then a
    ``k x k`` convolution of stride ``t`` is one ``(s k) x (s k)`` convolution of
    stride ``s t`` (``s`` the pool size) with the kernel spread over each window.

    Parameters
    ----------
    pool : `.AvgPool`
        The pooling layer.
    in_shape : tuple of int
        Shape ``(height, width, channels)`` of the pool's input.
    conv : `nengo.Convolution` or other transform
        The transform of the connection after the pool.

    Returns
    -------
    `nengo.Convolution` or None
        None when ``conv`` is not a channels-last convolution or the folding
        would not be exact.
    """
    size = pool.size
    stride = size if pool.stride is None else pool.stride
    if not isinstance(conv, nengo.Convolution) or not conv.channels_last:
        return None
    height, width, channels = in_shape
    if stride != size or height % size or width % size:
        return None
    if conv.padding == "same" and size > 1:
        for n, k, t in zip(
            (height // size, width // size), conv.kernel_size, conv.strides, strict=True
        ):
            out = -(-n // t)
            if max((out - 1) * t + k - n, 0) % 2:
                return None  # odd padding cannot be split into whole windows
    kernel = np.asarray(conv.init, dtype=float)
    kernel = np.repeat(np.repeat(kernel, size, axis=0), size, axis=1) / size**2
    return nengo.Convolution(
        n_filters=conv.n_filters,
        input_shape=(height, width, channels),
        kernel_size=tuple(k * size for k in conv.kernel_size),
        strides=tuple(t * size for t in conv.strides),
        padding=conv.padding,
        channels_last=True,
        init=kernel,
    )


def foldable_pools(net):
    """Pooling layers that fold exactly into the next layer: pool -> next name."""
    names = net.architecture.layer_names()
    specs = net.architecture.layers
    fold = {}
    for i, (name, spec) in enumerate(zip(names, specs, strict=True)):
        if not isinstance(spec, AvgPool) or i == 0 or i + 1 >= len(specs):
            continue
        in_shape = tuple(net.layers[names[i - 1]].shape)
        conn = net.layers[names[i + 1]].connection
        if conn is not None and folded_conv(spec, in_shape, conn.transform) is not None:
            fold[name] = names[i + 1]
    return fold


def fold_pool(net, name, spec, built, next_built, in_shape):
    """Replace pooling + the next convolution by one folded convolution."""
    conn_in, conn_next = built.connection, next_built.connection
    transform = folded_conv(spec, in_shape, conn_next.transform)
    with net:
        new = nengo.Connection(
            conn_in.pre,
            conn_next.post,
            transform=transform,
            synapse=conn_in.synapse if conn_next.synapse is None else conn_next.synapse,
            label=conn_next.label,
        )
    remove_objects(net, [built.output, conn_in, conn_next])
    built.output, built.connection = conn_in.pre, None
    next_built.connection = new


def pool_relays(net, pool_relays):
    """The names of the pools that ``pool_relays`` makes relays (checked)."""
    pools = set(net.architecture.names_of(AvgPool))
    if isinstance(pool_relays, bool):
        return frozenset(pools) if pool_relays else frozenset()
    if isinstance(pool_relays, str) and pool_relays == "auto":
        raise ValueError(
            "pool_relays='auto' chooses by running images, which to_loihi does not "
            "have: pass choose_pools(net, images).options(), or evaluate with "
            "backend='loihi' and pool_relays='auto'"
        )
    if isinstance(pool_relays, str):
        pool_relays = [pool_relays]
    names = frozenset(pool_relays)
    unknown = sorted(names - pools)
    if unknown:
        raise ValueError(
            f"pool_relays names {unknown}, which are not pooling layers of this "
            f"network; its pooling layers are {sorted(pools)}"
        )
    return names
