"""Placement of the on-chip layers on Loihi cores: one block shape per layer.

:func:`choose_block_shapes` splits every on-chip layer into blocks that each fit
a core (:data:`LIMITS`: compartments, input and output axons, synapse memory,
counted by `nengo_softlif.backends.loihi.resources`), or raises `LoihiPlacementError`
naming the layer and the limit; `LayerPlacement` records how one layer was split
and `LoihiPlan` what :func:`~nengo_softlif.backends.loihi.to_loihi` did to a network.
:func:`chip_utilisation` builds a prepared network with nengo-loihi to check the
block shapes against nengo-loihi's own count.
"""

import dataclasses
import itertools

import numpy as np

from nengo_softlif.backends.loihi._nengo_loihi import (
    MAX_COMPARTMENTS,
    MAX_IN_AXONS,
    MAX_OUT_AXONS,
    MAX_SYNAPSE_BITS,
    build_loihi_model,
    ensemble_blocks,
)
from nengo_softlif.backends.loihi.resources import block_ranges, count_blocks

__all__ = [
    "choose_block_shapes",
    "chip_utilisation",
    "LoihiPlan",
    "LayerPlacement",
    "LoihiPlacementError",
    "LIMITS",
]

#: Resources of one Loihi core, as nengo-loihi 1.1 checks them.
LIMITS = {
    "compartments": MAX_COMPARTMENTS,
    "in_axons": MAX_IN_AXONS,
    "out_axons": MAX_OUT_AXONS,
    "synapse_bits": MAX_SYNAPSE_BITS,
}

_LIMIT_WORDS = {
    "compartments": "compartments (neurons)",
    "in_axons": "input axons",
    "out_axons": "output axons",
    "synapse_bits": "bits of synapse memory",
}


class LoihiPlacementError(ValueError):
    """A layer cannot be split into blocks that each fit a Loihi core.

    Attributes
    ----------
    layer : str
        Name of the layer.
    """

    def __init__(self, message, layer=None):
        super().__init__(message)
        self.layer = layer


@dataclasses.dataclass
class LayerPlacement:
    """How one on-chip layer is split into blocks (one block per core).

    Attributes
    ----------
    name : str
        Layer name (``pool1`` for the counters of a pooling layer).
    shape : tuple of int
        Shape of the layer's neurons.
    block_shape : tuple of int
        Shape of each block (`nengo_loihi.BlockShape`).
    n_blocks : int
        Number of blocks, i.e. cores.
    usage : dict of str -> int
        Largest use of each core resource over the blocks (see :data:`LIMITS`).
    """

    name: str
    shape: tuple
    block_shape: tuple
    n_blocks: int
    usage: dict

    @property
    def utilisation(self):
        """Largest fraction of any core resource used by any block."""
        return max(self.usage[k] / LIMITS[k] for k in LIMITS)

    def broken_limits(self):
        """Resources above the core limits: name -> (needed, limit)."""
        return {k: (v, LIMITS[k]) for k, v in self.usage.items() if v > LIMITS[k]}


@dataclasses.dataclass
class LoihiPlan:
    """What :func:`to_loihi` did to a network.

    Attributes
    ----------
    layers : dict of str -> LayerPlacement
        On-chip layers in order (conv, pool counters, dense ...).
    input_rates : float
        Rate (Hz) of an input spike generator per unit of input.
    signed_input : bool
        Whether inputs are split into on/off generators.
    synapses : dict of str -> (str, str)
        Connection label -> (original synapse, on-chip synapse).
    ensembles : dict of str -> `nengo.Ensemble`
        On-chip ensembles by layer name.
    input_ensemble : `nengo.Ensemble`
        The off-chip spike generators.
    folded_pools : dict of str -> str
        Pooling layers folded into the next layer (pool -> layer).
    relay_pools : frozenset of str
        Pooling layers that are one-spike relays (the other unfolded pools are
        counters).
    pool_spikes : dict of str -> int
        Input spikes per output spike of each pool of counters (a whole window
        by default); used by
        :func:`~nengo_softlif.backends.loihi.apply_chip_changes`.
    """

    layers: dict
    input_rates: float
    signed_input: bool
    synapses: dict
    ensembles: dict
    input_ensemble: object = None
    folded_pools: dict = dataclasses.field(default_factory=dict)
    relay_pools: frozenset = frozenset()
    pool_spikes: dict = dataclasses.field(default_factory=dict)

    @property
    def n_cores(self):
        """Cores (blocks) used by the on-chip layers."""
        return sum(p.n_blocks for p in self.layers.values())

    def summary(self):
        """A table of the layers, their blocks and their largest core usage."""
        lines = [
            f"{'layer':<10}{'neurons':>9}  {'block shape':<14}{'cores':>6}"
            f"{'compart.':>10}{'in-axons':>10}{'out-axons':>10}{'syn. bits':>11}"
        ]
        for p in self.layers.values():
            u = p.usage
            lines.append(
                f"{p.name:<10}{int(np.prod(p.shape)):>9}  {str(p.block_shape):<14}"
                f"{p.n_blocks:>6}{u['compartments']:>10}{u['in_axons']:>10}"
                f"{u['out_axons']:>10}{int(u['synapse_bits']):>11}"
            )
        lines.append(f"total cores: {self.n_cores}")
        return "\n".join(lines)


def _candidates(shape):
    """Block shapes with at most MAX_COMPARTMENTS, fewest blocks first."""
    per_dim = [
        sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True) for n in shape
    ]
    found = []
    for block in itertools.product(*per_dim):
        if np.prod(block) <= MAX_COMPARTMENTS:
            # fewer cores first; then the squarer spatial block (less halo)
            spatial = block[:2] if len(block) == 3 else block
            found.append((count_blocks(shape, block), -min(spatial), block))
    found.sort()
    return [(n, block) for n, _, block in found]


def _usage(layer, block_shape, post):
    """Largest use of each resource over the blocks of ``layer`` with ``block_shape``."""
    name, shape, link = layer
    comps = max(
        np.prod([b - a for a, b in blk]) for blk in block_ranges(shape, block_shape)
    )
    in_axons, bits = link.post_usage(shape, block_shape)
    out_axons = np.zeros(count_blocks(shape, block_shape))
    for post_shape, post_block, post_link in post:
        out_axons = out_axons + post_link.pre_out_axons(
            shape, block_shape, post_shape, post_block
        )
    return {
        "compartments": int(comps),
        "in_axons": int(in_axons.max()),
        "out_axons": int(out_axons.max(initial=0)),
        "synapse_bits": float(bits.max()),
    }


def _fits(usage):
    return all(usage[k] <= LIMITS[k] for k in LIMITS)


def _placement_error(name, shape, usage, block_shape):
    broken = {k: usage[k] for k in LIMITS if usage[k] > LIMITS[k]}
    parts = [
        f"{_LIMIT_WORDS[k]}: {int(v)} needed, {LIMITS[k]} per core"
        for k, v in broken.items()
    ]
    hints = []
    if "in_axons" in broken:
        hints.append(
            "every core holding part of a dense or sparse layer needs one input axon "
            "per presynaptic neuron, so the layer feeding it must have fewer neurons "
            "(pool or downsample before it)"
        )
    if "out_axons" in broken:
        hints.append(
            "its neurons project to too many cores of the next layer; give the next "
            "layer larger blocks or this layer fewer neurons per block"
        )
    if "synapse_bits" in broken:
        hints.append("its weights do not fit in the synapse memory of the cores")
    return LoihiPlacementError(
        f"Layer {name!r} (shape {tuple(shape)}) cannot be placed on Loihi cores: "
        f"with block shape {tuple(block_shape)} it needs more than a core has ("
        + "; ".join(parts)
        + "). "
        + "; ".join(hints),
        layer=name,
    )


def choose_block_shapes(layers, fixed=None):
    """Choose a block shape for each on-chip layer so that every block fits a core.

    Layers are placed from the last to the first, because a layer's output axons
    depend on how many blocks of the next layer each of its neurons reaches. For
    each layer the block shapes are tried from the fewest blocks up; among the
    shapes with the fewest blocks that fit, the one with the lowest largest
    resource use is taken.

    Parameters
    ----------
    layers : list of (name, shape, link, pre_name)
        On-chip layers in order; ``link`` describes the incoming weights and
        ``pre_name`` is the on-chip layer they come from (None if off chip).
    fixed : dict of str -> tuple, optional
        Block shapes given by the user; they are checked, not searched.

    Returns
    -------
    dict of str -> LayerPlacement

    Raises
    ------
    LoihiPlacementError
        Naming the first layer (from the end) that cannot be placed and the limit.
    """
    fixed = fixed or {}
    by_name = {name: (name, shape, link) for name, shape, link, _ in layers}
    targets = {name: [] for name, _, _, _ in layers}
    for name, _, _, pre in layers:
        if pre is not None:
            targets[pre].append(name)
    chosen = {}
    for name, shape, link, _ in reversed(layers):
        post = [
            (by_name[t][1], chosen[t].block_shape, by_name[t][2]) for t in targets[name]
        ]
        if name in fixed:
            block = tuple(int(b) for b in fixed[name])
            if len(block) != len(shape):
                raise ValueError(
                    f"Block shape {block} for layer {name!r} must have "
                    f"{len(shape)} dimensions like the layer's shape {tuple(shape)}"
                )
            usage = _usage(by_name[name], block, post)
            if not _fits(usage):
                raise _placement_error(name, shape, usage, block)
            chosen[name] = LayerPlacement(
                name, tuple(shape), block, count_blocks(shape, block), usage
            )
            continue
        if link.min_in_axons() > MAX_IN_AXONS:
            block = (1,) * len(shape)
            usage = {
                "compartments": 1,
                "in_axons": link.min_in_axons(),
                "out_axons": 0,
                "synapse_bits": 0,
            }
            raise _placement_error(name, shape, usage, block)
        best = None
        for n_blocks, group in itertools.groupby(
            _candidates(shape), key=lambda c: c[0]
        ):
            scored = []
            for _, block in group:
                usage = _usage(by_name[name], block, post)
                score = max(usage[k] / LIMITS[k] for k in LIMITS)
                if best is None or score < best[0]:
                    best = (score, block, usage)
                if _fits(usage):
                    scored.append((score, block, usage))
            if scored:
                score, block, usage = min(scored, key=lambda s: s[0])
                chosen[name] = LayerPlacement(
                    name, tuple(shape), block, n_blocks, usage
                )
                break
        else:
            raise _placement_error(name, shape, best[2], best[1])
    return {name: chosen[name] for name, _, _, _ in layers}


def chip_utilisation(net, dt=0.001):
    """Build a prepared network with nengo-loihi and read each block's usage.

    This is nengo-loihi's own count (``LoihiBlock.utilization``), to check the
    block shapes of :func:`to_loihi`; weights are not discretised.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A network from :func:`to_loihi`.
    dt : float

    Returns
    -------
    dict of str -> dict
        Per on-chip layer: ``n_blocks`` and the largest ``compartments``,
        ``in_axons``, ``out_axons``, ``synapse_bits`` over its blocks.
    """
    model = build_loihi_model(net, dt, discretize=False)
    keys = dict(
        zip(["compartments", "in-axons", "out-axons", "synapses"], LIMITS, strict=True)
    )
    result = {}
    for name, ens in net.loihi_plan.ensembles.items():
        blocks = ensemble_blocks(model, ens)
        usage = {k: 0 for k in LIMITS}
        for block in blocks:
            for key, (value, _) in block.utilization().items():
                usage[keys[key]] = max(usage[keys[key]], int(value))
        result[name] = {"n_blocks": len(blocks), **usage}
    return result
