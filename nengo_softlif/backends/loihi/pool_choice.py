"""Counters or relays for each pool, chosen by measurement: :func:`choose_pool_relays`.

A pool that is not folded into the next convolution runs on the chip as
counters (one output spike per ``n`` input spikes) or one-spike relays (see
`nengo_softlif.backends.loihi.pools`). Which is better depends on the rates
of the pool's inputs: on slow inputs a counter sends a few large spikes per
image and carries its count into the next; on fast inputs counters are exact
enough and relays lose the spikes of a window that coincide in a step. The
choice is measured: the network with only the pools changed
(:func:`~nengo_softlif.backends.loihi.apply_chip_changes` ``["pools"]``) runs
on the fast backend for a few images with every combination of counters and
relays (one pool at a time beyond three pools), and the combination whose
read-out is closest to the exact network's wins.
"""

import dataclasses
import itertools

import numpy as np

__all__ = ["choose_pool_relays"]

#: Pools beyond which the choice is made one pool at a time.
MAX_COMBINED = 3


def choose_pool_relays(net, images, protocol=None, n_images=20, **options):
    """The pools that should be one-spike relays for these images.

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
        Other :func:`~nengo_softlif.backends.loihi.to_loihi` options.

    Returns
    -------
    relays : frozenset of str
        The pools to make relays (the others stay counters).
    measured : dict
        ``frozenset of relay pools -> read-out difference`` of every
        combination measured.
    """
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.backends.loihi.changes import apply_chip_changes
    from nengo_softlif.backends.loihi.conversion import to_loihi
    from nengo_softlif.evaluation.diagnosis import readout_difference
    from nengo_softlif.evaluation.runner import Protocol, evaluate

    protocol = Protocol() if protocol is None else protocol
    options = {k: v for k, v in options.items() if k != "pool_relays"}
    images = np.asarray(images, dtype=np.float32)[:n_images]
    labels = np.zeros(len(images), dtype=int)
    plan = to_loihi(net, **options).loihi_plan
    pools = _chip_pools(net, plan)
    if not pools:
        return frozenset(), {}
    run = {"backend": "fast", "warm_up": True}
    exact = evaluate(net, images, labels, protocol, **run).outputs
    measured = {}

    def measure(relays):
        if relays not in measured:
            changed = apply_chip_changes(
                net,
                ["pools"],
                plan=_with_relays(plan, relays),
                **options,
            )
            out = evaluate(changed, images, labels, protocol, **run).outputs
            measured[relays] = readout_difference(out, exact)
        return measured[relays]

    if len(pools) <= MAX_COMBINED:
        candidates = [
            frozenset(c)
            for k in range(len(pools) + 1)
            for c in itertools.combinations(pools, k)
        ]
        best = min(candidates, key=measure)
    else:
        best = frozenset()
        for pool in pools:
            if measure(best | {pool}) < measure(best):
                best = best | {pool}
    return best, measured


def _chip_pools(net, plan):
    """The pools that run on the chip (not folded), in network order."""
    from nengo_softlif.network.layers import AvgPool  # noqa: PLC0415

    return [
        name
        for name, spec in zip(
            net.architecture.layer_names(), net.architecture.layers, strict=True
        )
        if isinstance(spec, AvgPool) and name not in plan.folded_pools
    ]


def _with_relays(plan, relays):
    return dataclasses.replace(plan, relay_pools=frozenset(relays))
