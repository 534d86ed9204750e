"""The nengo-dl evaluation backend: minibatched streams of images.

The ``minibatch_size`` images of a minibatch are independent streams: stream b
is shown its share of the images one after another (without a reset, unless the
protocol asks), so a minibatched run follows the same protocol as the reference
simulator, ``minibatch_size`` times in parallel.
"""

import math

import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.evaluation.backend import image_progress, register_backend

__all__ = ["run_nengo_dl"]


@register_backend("nengo-dl")
def run_nengo_dl(
    net,
    images,
    protocol,
    monitors,
    progress=False,
    minibatch_size=100,
    unroll=1,
    seed=0,
):
    """Evaluate in `nengo_dl.Simulator`.

    Parameters
    ----------
    minibatch_size : int
        Number of parallel image streams.
    unroll : int
        ``unroll_simulation`` of the nengo-dl simulator (steps per TF loop
        iteration); must divide the steps per image.
    """
    nengo_dl = import_nengo_dl()
    n_images = len(images)
    n_steps = protocol.n_steps
    if n_steps % unroll:
        raise ValueError(
            f"unroll ({unroll}) must divide the steps per image ({n_steps})"
        )
    mb = max(1, min(minibatch_size, n_images))
    per_stream = math.ceil(n_images / mb)
    # stream b shows images b*per_stream ... (b+1)*per_stream - 1 (padded at the end)
    flat_order = np.arange(mb * per_stream)
    valid = (flat_order < n_images).reshape(mb, per_stream)
    order = np.minimum(flat_order, n_images - 1).reshape(mb, per_stream)
    outputs = np.zeros((n_images, n_steps, net.out.size_out), dtype=np.float32)
    sums = np.zeros((n_images, 2 * len(monitors)))
    probes = [net.out_probe] + list(monitors.values())
    with (
        nengo_dl.Simulator(
            net,
            dt=protocol.dt,
            minibatch_size=mb,
            unroll_simulation=unroll,
            progress_bar=False,
            seed=seed,
        ) as sim,
        image_progress(progress, n_images, "nengo-dl", protocol) as bar,
    ):
        for k in range(per_stream):
            idx = order[:, k]
            x = np.broadcast_to(images[idx][:, None, :], (mb, n_steps, images.shape[1]))
            out = sim.predict_on_batch(
                {net.inp: x}, n_steps=n_steps, stateful=not protocol.reset
            )
            keep = valid[:, k]
            outputs[idx[keep]] = out[net.out_probe][keep]
            sums[idx[keep]] = np.concatenate(
                [out[p].sum(axis=1) for p in probes[1:]], axis=1
            )[keep]
            done = idx[keep]
            bar.update(done.size, done, outputs[done] if bar.wants_traces else None)
    return outputs, sums
