"""How much Loihi's discretisation changes a network's weights and outputs.

:func:`quantisation_report` discretises each block's weights, biases and
thresholds as nengo-loihi does for the chip and compares them with their
floating-point values; given images, it also compares the emulator's read-outs
with and without discretisation.
"""

import warnings

import nengo
import numpy as np

from nengo_softlif.backends.loihi._nengo_loihi import (
    build_loihi_model,
    discretize_block,
    discretize_tau_rc,
    discretize_tau_ref,
    ensemble_blocks,
)
from nengo_softlif.backends.loihi.conversion import to_loihi
from nengo_softlif.backends.loihi.simulation import (
    choose_input_options,
    simulate_images,
)
from nengo_softlif.network.convert import copy_network

__all__ = ["quantisation_report"]


def _effective_weights(synapse, info, w_max_i):
    """Real weights that the discretised integer weights of a synapse stand for.

    `discretize_synapse` turns ``w`` into ``round(w * s / 2**shift) * 2**(shift +
    weight_exp + 6)`` with ``s = w_scale * 2**dw_exp``; dividing the integers by
    ``s * 2**(weight_exp + 6)`` gives back the weights they represent.
    """
    w_scale = float(np.asarray(info["w_scale"]).ravel()[0])
    dw_exp = int(np.floor(np.log2(info["w_max"] / w_max_i))) if w_max_i > 1e-16 else 0
    scale = w_scale * 2.0**dw_exp * 2.0 ** (6 + synapse.synapse_cfg.weight_exp)
    return [np.asarray(w, dtype=float) / scale for w in synapse.weights]


def quantisation_report(net, images=None, protocol=None, seed=0, **options):
    """How much Loihi's discretisation changes a network's weights (and outputs).

    Each block's weights, biases and thresholds are discretised as nengo-loihi
    does for the chip (`nengo_loihi.builder.discretize.discretize_block`) and
    compared with their floating-point values. With ``images``, the network is
    also run on the emulator with (``target="sim"``) and without
    (``target="simreal"``) discretisation.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A spiking network, or one already prepared by :func:`to_loihi`.
    images : ndarray, optional
        A few preprocessed images, (n, ...) on the network's input.
    protocol : `.Protocol`, optional
        Presentation of the images (default: the paper's).
    seed : int
    **options
        Passed to :func:`to_loihi` (when ``net`` is not prepared yet).

    Returns
    -------
    dict
        ``layers``: per on-chip layer ``weight_rel_rms_error`` (RMS change over
        RMS weight), ``weight_max_abs_error`` (over the largest weight),
        ``weights_zeroed`` (fraction of nonzero weights that became 0),
        ``n_weights``, ``bias_rel_max_error``, ``threshold_rel_max_error``;
        ``tau_rc`` and ``tau_ref``: the chip's values per layer neuron type;
        ``outputs`` (with images): ``rel_mean_abs_diff`` of the read-out
        (window mean) between the two emulator runs, ``prediction_agreement``,
        ``max_abs_diff``.
    """
    from nengo_softlif.evaluation.runner import (  # pylint: disable=import-outside-toplevel
        Protocol,
    )

    protocol = Protocol() if protocol is None else protocol
    prepared = _prepared(net, images, protocol, options)
    model = build_loihi_model(prepared, protocol.dt, discretize=False)
    layers = {
        name: _layer_errors(ensemble_blocks(model, ens))
        for name, ens in prepared.loihi_plan.ensembles.items()
    }
    report = {"layers": layers, **_neuron_constants(prepared, protocol.dt)}
    if images is not None:
        report["outputs"] = _output_differences(net, prepared, images, protocol, seed)
    return report


def _prepared(net, images, protocol, options):
    """``net`` if prepared by `to_loihi`, else a prepared copy (inputs from images)."""
    if getattr(net, "loihi_plan", None) is not None:
        return net
    if images is not None:
        flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
        rates, signed = choose_input_options(
            flat,
            protocol,
            options.pop("input_rates", None),
            options.pop("signed_input", None),
        )
        options.update(input_rates=rates, signed_input=signed)
    return to_loihi(net, **options)


def _layer_errors(blocks):
    """Discretise the blocks (in place) and measure the changes, over all blocks."""
    err2 = ref2 = 0.0
    max_err = w_max = 0.0
    zeroed = nonzero = n_weights = 0
    bias_err = vth_err = 0.0
    for block in blocks:
        weights, bias, vth = _discretised(block)
        for eff, ref in weights:
            err2 += float(((eff - ref) ** 2).sum())
            ref2 += float((ref**2).sum())
            max_err = max(max_err, float(np.abs(eff - ref).max(initial=0)))
            w_max = max(w_max, float(np.abs(ref).max(initial=0)))
            nonzero += int(np.count_nonzero(ref))
            zeroed += int(np.count_nonzero((ref != 0) & (eff == 0)))
            n_weights += ref.size
        (eff_bias, ref_bias), (eff_vth, ref_vth) = bias, vth
        scale_b = max(np.abs(ref_bias).max(initial=0), 1e-12)
        bias_err = max(
            bias_err, float(np.abs(eff_bias - ref_bias).max(initial=0) / scale_b)
        )
        vth_err = max(
            vth_err, float(np.abs(eff_vth - ref_vth).max(initial=0) / ref_vth.max())
        )
    return {
        "weight_rel_rms_error": float(np.sqrt(err2 / ref2)) if ref2 > 0 else 0.0,
        "weight_max_abs_error": max_err / w_max if w_max > 0 else 0.0,
        "weights_zeroed": zeroed / nonzero if nonzero else 0.0,
        "n_weights": n_weights,
        "bias_rel_max_error": bias_err,
        "threshold_rel_max_error": vth_err,
    }


def _discretised(block):
    """Discretise a block in place: its (effective, float) weights, biases, vth.

    Returns a list of (effective, float) weight arrays over the block's
    synapses, and the (effective, float) pairs of biases and thresholds.
    """
    float_w = [[np.array(w, dtype=float) for w in s.weights] for s in block.synapses]
    w_max_i = [s.max_abs_weight() for s in block.synapses]
    bias = block.compartment.bias.astype(float).copy()
    vth = block.compartment.vth.astype(float).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        discretize_block(block)
    info = block.compartment.discretize_info
    weights = []
    for syn, ws, wmi in zip(block.synapses, float_w, w_max_i, strict=True):
        weights.extend(zip(_effective_weights(syn, info, wmi), ws, strict=True))
    eff_bias = block.compartment.bias.astype(float) / float(
        np.asarray(info["b_scale"]).ravel()[0]
    )
    eff_vth = block.compartment.vth.astype(float) / float(info["v_scale"])
    return weights, (eff_bias, bias), (eff_vth, vth)


def _neuron_constants(prepared, dt):
    """``tau_rc`` and ``tau_ref``: (nengo value, chip value) per LIF layer."""
    constants = {"tau_rc": {}, "tau_ref": {}}
    for name, ens in prepared.loihi_plan.ensembles.items():
        if isinstance(ens.neuron_type, nengo.LIF):
            nt = ens.neuron_type
            constants["tau_rc"][name] = (
                nt.tau_rc,
                float(discretize_tau_rc(nt.tau_rc, dt)),
            )
            constants["tau_ref"][name] = (
                nt.tau_ref,
                float(discretize_tau_ref(nt.tau_ref, dt)),
            )
    return constants


def _output_differences(net, prepared, images, protocol, seed):
    """Read-outs on the emulator with and without discretisation, compared."""
    # pylint: disable=import-outside-toplevel
    from nengo_softlif.evaluation.diagnosis import readout_difference
    from nengo_softlif.evaluation.runner import add_monitors, check_images

    flat, _ = check_images(images, np.zeros(len(images), dtype=int), net.inp.size_out)
    runs = {}
    for target in ("sim", "simreal"):
        copy = copy_network(prepared)
        monitors = add_monitors(copy)
        outputs, _ = simulate_images(
            copy, flat, protocol, monitors, target, seed, False, None
        )
        runs[target] = outputs[:, protocol.window].mean(axis=1)
    diff = np.abs(runs["sim"] - runs["simreal"])
    return {
        "rel_mean_abs_diff": readout_difference(runs["sim"], runs["simreal"]),
        "max_abs_diff": float(diff.max()),
        "prediction_agreement": float(
            np.mean(runs["sim"].argmax(1) == runs["simreal"].argmax(1))
        ),
    }
