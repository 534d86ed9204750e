"""The ``"nengo"`` backend: nengo's reference simulator, one image after another."""

import nengo
import numpy as np

from nengo_softlif.evaluation.backend import image_progress, register_backend

__all__ = ["run_nengo"]


@register_backend("nengo")
def run_nengo(net, images, protocol, monitors, progress=False, seed=0, **options):
    """Reference backend: `nengo.Simulator`, one image after another."""
    if options:
        raise TypeError(f"Unknown options for the nengo backend: {sorted(options)}")
    current = [images[0]]
    net.inp.output = lambda t: current[0]
    n_steps = protocol.n_steps
    outputs = np.zeros((len(images), n_steps, net.out.size_out), dtype=np.float32)
    sums = np.zeros((len(images), 2 * len(monitors)))
    with (
        nengo.Simulator(net, dt=protocol.dt, progress_bar=False, seed=seed) as sim,
        image_progress(progress, len(images), "nengo", protocol) as bar,
    ):
        for i in range(len(images)):
            current[0] = images[i]
            if protocol.reset and i > 0:
                sim.reset(seed=seed)
            sim.run_steps(n_steps)
            outputs[i] = sim.data[net.out_probe][-n_steps:]
            sums[i] = np.concatenate(
                [sim.data[p][-n_steps:].sum(0) for p in monitors.values()]
            )
            sim.clear_probes()
            bar.update(1, idx=[i], traces=outputs[i : i + 1])
    return outputs, sums
