"""What a run costs and how its error develops: fan-out, operations, energy, error in time.

The energy estimate is the paper's (Hunsberger & Eliasmith 2016): synaptic
events and neuron updates of the spiking network against the FLOPs of the rate
network, each weighted by its relative energy.
"""

import math

import numpy as np

from nengo_softlif.network.layers import (
    AvgPool,
    Conv,
    Dense,
    LocallyConnected,
    MaxPool,
    Output,
)

__all__ = [
    "ENERGY_PER_SYNAPTIC_EVENT",
    "ENERGY_PER_NEURON_UPDATE",
    "FLOPS_PER_CONNECTION",
    "layer_fan_out",
    "rate_flops",
    "error_vs_time",
    "window_errors",
    "early_decisions",
]

#: Pooling layers (linear reach of their windows; no neurons).
_POOLS = (AvgPool, MaxPool)

#: Relative energy per operation used by the paper's estimate (Hunsberger &
#: Eliasmith 2016): a synaptic event, a neuron update, and a FLOP of the rate net.
ENERGY_PER_SYNAPTIC_EVENT = 0.08
ENERGY_PER_NEURON_UPDATE = 0.25
FLOPS_PER_CONNECTION = 2


def _axis_reach(spec, in_len):
    """Binary (out_len, in_len) matrix of which inputs each output sees, per axis."""
    if isinstance(spec, AvgPool):
        stride = spec.size if spec.stride is None else spec.stride
        out_len = max(math.ceil((in_len - spec.size) / stride), 0) + 1
        pad, kernel = 0, spec.size
    elif isinstance(spec, MaxPool):  # TensorFlow "SAME" windows
        stride = spec.size if spec.stride is None else spec.stride
        out_len = math.ceil(in_len / stride)
        pad = max((out_len - 1) * stride + spec.size - in_len, 0) // 2
        kernel = spec.size
    else:
        stride, pad, kernel = spec.stride, spec.padding, spec.kernel
        out_len = (in_len + 2 * pad - kernel) // stride + 1
    reach = np.zeros((out_len, in_len), dtype=bool)
    for o in range(out_len):
        lo = o * stride - pad
        reach[o, max(lo, 0) : max(min(lo + kernel, in_len), 0)] = True
    return reach


def _layer_shapes(architecture):
    """``{name: (input shapes, output shape)}`` of every layer of an architecture."""
    from nengo_softlif.network.architectures import INPUT  # noqa: PLC0415
    from nengo_softlif.network.merges import is_merge  # noqa: PLC0415

    names = architecture.layer_names()
    outputs = {INPUT: tuple(architecture.input_shape)}
    shapes = {}
    for spec, name, inputs in zip(
        architecture.layers, names, architecture.layer_inputs(), strict=True
    ):
        in_shapes = [outputs[n] for n in inputs]
        shape = in_shapes[0]
        if isinstance(spec, (Dense, Output)):
            out = (spec.units,)
        elif is_merge(spec):
            joined = (*shape[:-1], sum(s[-1] for s in in_shapes))
            out = shape if _adds(spec) else joined
        else:
            h = _axis_reach(spec, shape[0]).shape[0]
            w = _axis_reach(spec, shape[1]).shape[0]
            out = (h, w, shape[2] if isinstance(spec, _POOLS) else spec.filters)
        shapes[name] = (in_shapes, out)
        outputs[name] = out
    return shapes


def _adds(spec):
    """Whether a merge layer adds its inputs (rather than joining them)."""
    from nengo_softlif.network.merges import Add  # noqa: PLC0415

    return isinstance(spec, Add)


def _reached(architecture):
    """Specs by name, output shapes and the layers reading each layer."""
    names = architecture.layer_names()
    readers = {name: [] for name in names}
    for name, inputs in zip(names, architecture.layer_inputs(), strict=True):
        for source in inputs:
            if source in readers:
                readers[source].append(name)
    specs = dict(zip(names, architecture.layers, strict=True))
    return specs, {n: s[1] for n, s in _layer_shapes(architecture).items()}, readers


def layer_fan_out(architecture):
    """Number of next-layer neurons (or outputs) each neuron's spikes reach.

    Average pooling is folded into the next layer (it is linear), as on hardware;
    so are merges without neurons (a skip reaches every layer reading the merge).
    A linear layer (``neurons=False``) counts as the layer its weights reach.

    Returns
    -------
    dict of str -> ndarray
        Per neuron layer, the fan-out of each neuron (channels-last order).
    """
    from nengo_softlif.network.merges import is_merge  # noqa: PLC0415

    specs, shapes, readers = _reached(architecture)

    def targets(name, rows, cols, n, channels):
        total = np.zeros(n, dtype=int)
        shape = shapes[name]
        for reader in readers[name]:
            spec = specs[reader]
            if isinstance(spec, (Dense, Output)):
                total += spec.units
            elif is_merge(spec):
                total += 1 if spec.neurons else targets(reader, rows, cols, n, channels)
            else:
                rows_next = _axis_reach(spec, shape[0]) @ rows
                cols_next = _axis_reach(spec, shape[1]) @ cols
                if isinstance(spec, _POOLS):
                    total += targets(reader, rows_next, cols_next, n, channels)
                    continue
                per_pixel = np.outer(rows_next.sum(0), cols_next.sum(0)) * spec.filters
                total += np.repeat(per_pixel.ravel(), channels)
        return total

    fan_out = {}
    for name, spec in specs.items():
        weights = isinstance(spec, (Conv, LocallyConnected, Dense))
        if not (weights or is_merge(spec)) or not getattr(spec, "neurons", True):
            continue
        shape = shapes[name]
        image = len(shape) == 3
        fan_out[name] = targets(
            name,
            np.eye(shape[0], dtype=bool) if image else None,
            np.eye(shape[1], dtype=bool) if image else None,
            int(np.prod(shape)),
            shape[-1],
        )
    return fan_out


def rate_flops(architecture):
    """FLOPs of one forward pass of the rate network (2 per connection).

    Pooling is folded into the next layer's weights, as on the rate hardware;
    an `.Add` costs one FLOP per value and added input, a `.Concatenate` none.
    """
    from nengo_softlif.network.merges import is_merge  # noqa: PLC0415

    flops, shapes = 0, _layer_shapes(architecture)
    for name, spec in zip(architecture.layer_names(), architecture.layers, strict=True):
        in_shapes, out = shapes[name]
        shape = in_shapes[0]
        if isinstance(spec, (Dense, Output)):
            flops += FLOPS_PER_CONNECTION * int(np.prod(shape)) * spec.units
        elif is_merge(spec):
            flops += int(np.prod(out)) * (len(in_shapes) - 1) * _adds(spec)
        elif not isinstance(spec, _POOLS):
            rows, cols = _axis_reach(spec, shape[0]), _axis_reach(spec, shape[1])
            flops += (
                FLOPS_PER_CONNECTION
                * int(rows.sum() * cols.sum())
                * shape[2]
                * spec.filters
            )
    return flops


def error_vs_time(
    output_traces, labels, dt, window_fraction=0.4, count_ties_as_errors=True
):
    """Classification error against presentation time.

    At step ``k`` (time ``k * dt``, ``k = 1 ... n_steps``) each image is
    classified by the argmax of its output averaged over the last
    ``max(1, round(window_fraction * k))`` steps, i.e. the last
    ``window_fraction`` of ``[0, t]``. Computed for all steps at once with
    cumulative sums.

    Parameters
    ----------
    output_traces : array_like
        Network outputs at each step, shape (n_images, n_steps, n_classes).
    labels : array_like of int
        True classes, shape (n_images,).
    dt : float
        Time step (s).
    window_fraction : float
        Fraction of the elapsed time that is averaged, in (0, 1].
    count_ties_as_errors : bool
        If True (default), an image whose largest mean output is shared by
        several classes (such as an all-zero output before the first spike)
        counts as misclassified; if False, ties go to the lowest class index, as
        ``np.argmax`` does.

    Returns
    -------
    times : ndarray
        ``dt * (1 ... n_steps)`` (s).
    errors : ndarray
        Fraction of misclassified images at each time.
    """
    traces = np.asarray(output_traces)
    if traces.ndim != 3:
        raise ValueError(
            "output_traces must have shape (n_images, n_steps, n_classes); got "
            f"{traces.ndim}-D array of shape {traces.shape}"
        )
    n_images, n_steps, n_classes = traces.shape
    if n_images == 0 or n_steps == 0 or n_classes == 0:
        raise ValueError(f"output_traces must not be empty; got shape {traces.shape}")
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n_images:
        raise ValueError(
            f"labels must have shape (n_images,) = ({n_images},) to match "
            f"output_traces; got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError("labels must be integer class indices")
        labels = labels.astype(int)
    if np.any(labels < 0) or np.any(labels >= n_classes):
        raise ValueError(f"labels must be class indices in [0, {n_classes})")
    if not dt > 0:
        raise ValueError(f"dt must be > 0 (got {dt})")
    if not 0 < window_fraction <= 1:
        raise ValueError(f"window_fraction must be in (0, 1] (got {window_fraction})")

    csum = np.zeros((n_images, n_steps + 1, n_classes))
    np.cumsum(traces, axis=1, dtype=float, out=csum[:, 1:])
    k = np.arange(1, n_steps + 1)
    width = np.clip(np.round(window_fraction * k).astype(int), 1, k)
    # the sum over the window; dividing by width would not change the argmax
    window_sum = csum[:, k] - csum[:, k - width]
    correct = np.take_along_axis(window_sum, labels[:, None, None], axis=2)[..., 0]
    if count_ties_as_errors:
        n_at_max = np.sum(window_sum == window_sum.max(axis=2, keepdims=True), axis=2)
        right = (correct == window_sum.max(axis=2)) & (n_at_max == 1)
    else:
        right = np.argmax(window_sum, axis=2) == labels[:, None]
    return k * dt, 1.0 - right.mean(axis=0)


def window_errors(output_traces, labels, dt, windows):
    """Errors of read-outs over several windows, from one simulation's traces.

    Parameters
    ----------
    output_traces : array_like
        Outputs at each step of each presentation, (n_images, n_steps, n_classes).
    labels : array_like of int
        True classes.
    dt : float
        Time step (s).
    windows : sequence of (float, float)
        ``(t_start, t_end)`` of each read-out (s, within the presentation); the
        class is the argmax of the mean output over the window.

    Returns
    -------
    list of float
        Fraction of misclassified images per window (ties count as errors).
    """
    traces = np.asarray(output_traces)
    labels = np.asarray(labels)
    n_steps = traces.shape[1]
    errors = []
    for t_start, t_end in windows:
        lo, hi = int(round(t_start / dt)), int(round(t_end / dt))
        if not 0 <= lo < hi <= n_steps:
            raise ValueError(
                f"window ({t_start}, {t_end}) s is not within the {n_steps * dt:g} s "
                "presentation; give 0 <= t_start < t_end <= presentation_time"
            )
        errors.append(_error(traces[:, lo:hi].mean(axis=1), labels))
    return errors


def _error(readout, labels):
    """Misclassified fraction; an image whose top score is shared is an error."""
    top = readout.max(axis=1, keepdims=True)
    unique = (readout == top).sum(axis=1) == 1
    return float(np.mean(~unique | (readout.argmax(axis=1) != labels)))


def early_decisions(output_traces, labels, dt, margin, t_min=0.0):
    """Decide each image as soon as the output is confident: error and decision time.

    From ``t_min`` on (the network needs a few synaptic time constants to leave
    the previous image behind), the read-out at time ``t`` is the mean output
    over ``[t_min, t]``; the image is decided at the first step where the top
    class leads the second by at least ``margin`` (in output units), or at the
    end of the presentation if that never happens.

    Returns
    -------
    dict
        ``error`` (fraction), ``mean_decision_s`` (mean decision time from the
        start of the presentation), ``decided_early`` (fraction decided before
        the end).
    """
    traces = np.asarray(output_traces, dtype=float)
    labels = np.asarray(labels)
    n_images, n_steps, _ = traces.shape
    first = min(int(np.ceil(t_min / dt - 1e-9)), n_steps - 1)
    running = np.cumsum(traces[:, first:], axis=1)
    running /= np.arange(1, n_steps - first + 1)[None, :, None]
    ordered = np.sort(running, axis=2)
    confident = ordered[:, :, -1] - ordered[:, :, -2] >= margin
    confident[:, -1] = True  # undecided images are read out at the end
    decision = confident.argmax(axis=1)
    readout = running[np.arange(n_images), decision]
    return {
        "error": _error(readout, labels),
        "mean_decision_s": float(np.mean((first + decision + 1) * dt)),
        "decided_early": float(np.mean(decision < n_steps - first - 1)),
    }
