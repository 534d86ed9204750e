"""Running a network on `nengo_loihi.Simulator`: the ``"loihi"`` backend.

Importing this module registers :func:`run_loihi` as the ``"loihi"`` evaluation
backend of `nengo_softlif.evaluation.runner`: it prepares the network with
:func:`~nengo_softlif.backends.loihi.to_loihi` (unless it is prepared already) and runs
the images one after another on the emulator (``target="sim"`` or
``"simreal"``) or the chip, with the emulator's spike delivery vectorised.
"""

import warnings

import nengo
import numpy as np

from nengo_softlif.backends.loihi._nengo_loihi import nengo_loihi, quiet_known_warnings
from nengo_softlif.backends.loihi.conversion import to_loihi
from nengo_softlif.backends.loihi.emulator import vectorize_spike_delivery
from nengo_softlif.backends.loihi.pool_choice import with_chosen_pools
from nengo_softlif.compat import check_loihi_target
from nengo_softlif.evaluation.backend import image_progress, register_backend

__all__ = ["run_loihi", "choose_input_options", "simulate_images"]


def choose_input_options(images, protocol, input_rates, signed_input):
    """The input generators' rate and sign for some images (defaults filled in).

    Parameters
    ----------
    images : ndarray
        (n_images, n_inputs) images as presented to the network.
    protocol : `.Protocol`
        Presentation of the images (its ``dt``).
    input_rates : float or None
        Generator rate per unit of input; None: the largest input fires once
        per step. A rate above that warns (Loihi drops the extra spikes).
    signed_input : bool or None
        On/off generators; None: if any input is negative.

    Returns
    -------
    input_rates : float
    signed_input : bool
    """
    peak = float(np.abs(images).max()) if images.size else 1.0
    if signed_input is None:
        signed_input = bool(images.min() < 0)
    if input_rates is None:
        # the largest input fires once per step: the most spikes Loihi takes
        input_rates = (1.0 / protocol.dt) / max(peak, 1e-9)
    elif input_rates * peak * protocol.dt > 1 + 1e-9:
        warnings.warn(
            f"input_rates={input_rates:g} Hz makes the largest input fire "
            f"{input_rates * peak:g} Hz, above one spike per step (1/dt = "
            f"{1 / protocol.dt:g} Hz): Loihi drops the extra spikes",
            stacklevel=2,
        )
    return input_rates, signed_input


def simulate_images(
    net, images, protocol, monitors, target, seed, progress, precompute, vectorized=True
):
    """Run the images one after another on `nengo_loihi.Simulator`.

    The network's input node reads the current image; a new simulator is built
    for every image when ``protocol.reset`` (nengo-loihi 1.1 cannot reset one).

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A network prepared by :func:`to_loihi`.
    images : ndarray
        (n_images, n_inputs) float32.
    protocol : `.Protocol`
    monitors : dict of str -> `nengo.Probe`
    target : str
        ``"sim"``, ``"simreal"`` or ``"loihi"``.
    seed : int
    progress : bool
    precompute : bool or None
        Passed to `nengo_loihi.Simulator`.
    vectorized : bool
        Deliver the emulator's spikes with :func:`.vectorize_spike_delivery`.

    Returns
    -------
    outputs : ndarray (n_images, n_steps, n_out) float32
    monitor_sums : ndarray (n_images, 2 * len(monitors))
    """
    current = [images[0]]
    net.inp.output = lambda t: current[0]
    n_steps = protocol.n_steps
    outputs = np.zeros((len(images), n_steps, net.out.size_out), dtype=np.float32)
    sums = np.zeros((len(images), 2 * len(monitors)))

    def simulator():
        with warnings.catch_warnings():
            quiet_known_warnings()
            sim = nengo_loihi.Simulator(
                net, dt=protocol.dt, seed=seed, target=target, precompute=precompute
            )
        if vectorized and "emulator" in sim.sims:
            vectorize_spike_delivery(sim.sims["emulator"])
        return sim

    sim = simulator()
    bar = image_progress(progress, len(images), f"loihi-{target}", protocol)
    try:
        for i in range(len(images)):
            current[0] = images[i]
            if protocol.reset and i > 0:
                # nengo-loihi 1.1 cannot reset a simulator: build a new one
                sim.close()
                sim = simulator()
            sim.run_steps(n_steps)
            outputs[i] = sim.data[net.out_probe][-n_steps:]
            sums[i] = np.concatenate(
                [np.asarray(sim.data[p][-n_steps:]).sum(0) for p in monitors.values()]
            )
            sim.clear_probes()
            bar.update(1, idx=[i], traces=outputs[i : i + 1])
    finally:
        bar.close()
        sim.close()
    return outputs, sums


@register_backend("loihi")
def run_loihi(
    net,
    images,
    protocol,
    monitors,
    progress=False,
    target="sim",
    seed=0,
    synapse_tau=None,
    block_shapes=None,
    input_rates=None,
    signed_input=None,
    input_synapse=nengo.Lowpass(0.005),
    fold_pooling=True,
    pool_spikes=None,
    pool_relays=False,
    precompute=None,
    vectorized=True,
):
    """Evaluation backend: `nengo_loihi.Simulator`, one image after another.

    The network (``evaluate``'s private copy, with its monitors) is prepared in
    place with :func:`to_loihi` (unless it comes from :func:`to_loihi` already;
    the conversion options are then unused) and run like the ``"nengo"``
    reference backend: the input node reads the current image, images follow each other without a
    reset unless ``protocol.reset`` (then a new simulator is built per image,
    because nengo-loihi 1.1 cannot reset one). The monitors are connections from
    on-chip neurons to off-chip nodes, which nengo-loihi turns into spike probes.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        Spiking network with monitors (from `.add_monitors`).
    images : ndarray
        (n_images, n_inputs) float32.
    protocol : `.Protocol`
    monitors : dict of str -> `nengo.Probe`
    progress : bool
    target : str
        ``"sim"`` (emulator, discretised like the chip), ``"simreal"`` (emulator
        in floating point: no weight quantisation) or ``"loihi"`` (hardware).
    seed : int
    synapse_tau, block_shapes
        Passed to :func:`to_loihi`.
    input_rates : float, optional
        Input generator rate per unit of input; by default the largest input
        fires once per step.
    signed_input : bool, optional
        On/off input generators; by default if any input is negative.
    input_synapse, fold_pooling, pool_spikes, pool_relays
        Passed to :func:`to_loihi`; ``pool_relays="auto"`` chooses relays and
        counters' sizes (`~nengo_softlif.backends.loihi.choose_pools` on these
        images).
    precompute : bool, optional
        Passed to `nengo_loihi.Simulator`.
    vectorized : bool
        Deliver the emulator's spikes with array code
        (:func:`.vectorize_spike_delivery`: the same arithmetic, the same spikes,
        about 15x faster per step on the paper's MNIST network). False runs
        nengo-loihi's own per-spike Python loop.

    Returns
    -------
    outputs : ndarray (n_images, n_steps, n_out) float32
    monitor_sums : ndarray (n_images, 2 * len(monitors))
    """
    check_loihi_target(target)
    if getattr(net, "loihi_plan", None) is None:
        input_rates, signed_input = choose_input_options(
            images, protocol, input_rates, signed_input
        )
        options = with_chosen_pools(
            net,
            images,
            protocol,
            dict(
                synapse_tau=synapse_tau,
                block_shapes=block_shapes,
                input_rates=input_rates,
                signed_input=signed_input,
                input_synapse=input_synapse,
                fold_pooling=fold_pooling,
                pool_spikes=pool_spikes,
                pool_relays=pool_relays,
            ),
        )
        to_loihi(net, copy=False, **options)
    elif images.min() < 0 and not net.loihi_plan.signed_input:
        raise ValueError(
            "The network was prepared by to_loihi without signed_input, but some "
            "inputs are negative: the input generators would drop them"
        )
    return simulate_images(
        net, images, protocol, monitors, target, seed, progress, precompute, vectorized
    )
