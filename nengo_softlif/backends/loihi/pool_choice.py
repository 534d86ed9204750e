"""How each pool runs on the chip, chosen by measurement: :func:`choose_pools`.

A pool that is not folded into the next convolution runs on the chip as
counters (one output spike per ``k`` input spikes) or one-spike relays (see
`nengo_softlif.backends.loihi.pools`). Which is better depends on the rates
of the pool's inputs: on slow inputs a counter of the whole window sends a few
large spikes per image and carries its count into the next; on fast inputs
counters are exact enough and relays lose the spikes of a window that coincide
in a step. Counters of a few spikes (``k`` of 2 or 3) sit in between; a pool
whose windows all divide by the full window (``edges="padded"``, see
`.AvgPool`) can count any ``k``, one with clipped windows only multiples of
the window size.

The choice is measured: the model of the chip (every change of
:data:`~nengo_softlif.backends.loihi.CHIP_CHANGES`, so that the pools meet
Loihi's neurons and synapses as on the chip) runs on the fast backend for a few
images with every combination of the pools' candidates (one pool at a time, in
network order, beyond :data:`MAX_COMBINATIONS`), and the combination whose
read-out is closest to the exact network's wins.
"""

import dataclasses
import itertools

import numpy as np

from nengo_softlif.backends.loihi.pools import counter_sizes

__all__ = ["PoolChoice", "choose_pools", "with_chosen_pools"]

#: Combinations of candidates beyond which the choice is made one pool at a time.
MAX_COMBINATIONS = 16

#: Input spikes per output spike tried for counters (besides the whole window).
COUNTER_SPIKES = (2, 3)

#: The candidate that makes a pool one-spike relays.
RELAY = "relay"


@dataclasses.dataclass(frozen=True)
class PoolChoice:
    """What :func:`choose_pools` chose, and what it measured.

    Attributes
    ----------
    relays : frozenset of str
        Pools that become one-spike relays (``to_loihi(pool_relays=...)``).
    spikes : dict of str -> int
        Input spikes per output spike of the other pools' counters
        (``to_loihi(pool_spikes=...)``).
    measured : dict
        Read-out difference from the exact network of every combination
        measured: ``tuple of (pool, "relay" or k) -> float``.
    """

    relays: frozenset
    spikes: dict
    measured: dict

    def options(self):
        """The :func:`~nengo_softlif.backends.loihi.to_loihi` options of the choice."""
        return {"pool_relays": self.relays, "pool_spikes": dict(self.spikes)}


def choose_pools(net, images, protocol=None, n_images=20, **options):
    """How each pool of ``net`` should run on the chip, for these images.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        An exact spiking network.
    images : ndarray
        Preprocessed images (the first ``n_images`` are used).
    protocol : `.Protocol`, optional
    n_images : int
        Images to measure on.
    **options
        Other :func:`~nengo_softlif.backends.loihi.to_loihi` options
        (``pool_relays`` and ``pool_spikes`` are what is chosen).

    Returns
    -------
    `PoolChoice`
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi.changes import CHIP_CHANGES, apply_chip_changes
    from nengo_softlif.backends.loihi.conversion import to_loihi
    from nengo_softlif.evaluation.diagnosis import readout_difference
    from nengo_softlif.evaluation.runner import Protocol, evaluate

    protocol = Protocol() if protocol is None else protocol
    options = {
        k: v for k, v in options.items() if k not in ("pool_relays", "pool_spikes")
    }
    images = np.asarray(images, dtype=np.float32)[:n_images]
    labels = np.zeros(len(images), dtype=int)
    plan = to_loihi(net, **options).loihi_plan
    pools = _chip_pools(net, plan)
    if not pools:
        return PoolChoice(frozenset(), {}, {})
    candidates = {pool: _candidates(net, pool) for pool in pools}
    run = {"backend": "fast", "warm_up": True}
    exact = evaluate(net, images, labels, protocol, **run).outputs
    measured = {}

    def measure(choice):
        key = tuple(sorted(choice.items()))
        if key not in measured:
            relays, spikes = _as_options(choice)
            changed = apply_chip_changes(
                net,
                tuple(CHIP_CHANGES),
                plan=dataclasses.replace(plan, relay_pools=relays, pool_spikes=spikes),
                **options,
            )
            out = evaluate(changed, images, labels, protocol, **run).outputs
            measured[key] = readout_difference(out, exact)
        return measured[key]

    n_combinations = int(np.prod([len(c) for c in candidates.values()]))
    if n_combinations <= MAX_COMBINATIONS:
        combinations = [
            dict(zip(pools, values, strict=True))
            for values in itertools.product(*(candidates[p] for p in pools))
        ]
        best = min(combinations, key=measure)
    else:  # one pool at a time, the later ones counting whole windows
        best = {pool: candidates[pool][-1] for pool in pools}
        for pool in pools:
            best[pool] = min(
                candidates[pool], key=lambda c, p=pool: measure({**best, p: c})
            )
    relays, spikes = _as_options(best)
    return PoolChoice(relays, spikes, measured)


def with_chosen_pools(net, images, protocol, options):
    """``options`` with ``pool_relays="auto"`` replaced by :func:`choose_pools`'s
    choice on ``images`` (unchanged otherwise)."""
    relays = options.get("pool_relays")
    if not (isinstance(relays, str) and relays == "auto"):
        return options
    choice = choose_pools(net, images, protocol, **options)
    return {**options, **choice.options()}


def _candidates(net, pool):
    """A pool's candidates: relays, then counters of a few and of all its inputs."""
    sizes = counter_sizes(net, pool)
    counters = [k for k in sizes if k in COUNTER_SPIKES or k == sizes[-1]]
    return [RELAY, *(k for k in counters if k > 1)]


def _as_options(choice):
    relays = frozenset(p for p, c in choice.items() if c == RELAY)
    spikes = {p: int(c) for p, c in choice.items() if c != RELAY}
    return relays, spikes


def _chip_pools(net, plan):
    """The pools that run on the chip (not folded), in network order."""
    from nengo_softlif.network.layers import AvgPool  # noqa: PLC0415

    return [
        name
        for name in net.architecture.names_of(AvgPool)
        if name not in plan.folded_pools
    ]
