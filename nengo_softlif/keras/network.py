"""A tf.keras model as the package's network (`.SoftLIFNetwork`).

:func:`from_keras` is the inverse of :func:`nengo_softlif.keras.keras_model`: it
reads weight layers, each followed by one of the package's neuron layers, in a
chain or with residual ``Add`` / ``Concatenate`` merges, into an `.Architecture`
and its parameters, so that everything the
package does with its own networks (training in nengo-dl, checkpoints,
`.to_spiking`, every evaluation backend, sharding) works on a model written in
Keras.
"""

import dataclasses
import os
import reprlib
from typing import NamedTuple

import numpy as np

from nengo_softlif.keras.graph import MERGES, KerasGraph
from nengo_softlif.keras.layers import (
    LocallyConnected,
    RateNeurons,
    RectifiedLinearRates,
    SoftLIF,
    tf,
)
from nengo_softlif.keras.rewrite import rewrite_model
from nengo_softlif.network.layers import AvgPool, Conv, Dense, Output
from nengo_softlif.network.layers import LocallyConnected as LocallyConnectedSpec
from nengo_softlif.network.merges import Add, Concatenate, is_merge
from nengo_softlif.neurons.softlif import RectifiedLinear
from nengo_softlif.transforms.sparse import AveragePoolSparse, LocallyConnectedSparse

__all__ = ["from_keras", "check_model"]


def check_model(model, one_input=True):
    """Refuse what is not a built tf.keras model (of one input and output).

    Parameters
    ----------
    model : tf.keras.Model
    one_input : bool
        Also refuse models of several inputs or outputs.

    Raises
    ------
    TypeError
        Saying what ``model`` is and what to pass instead.
    """
    if not isinstance(model, tf.keras.Model):
        hint = (
            "; load a saved model first with tf.keras.models.load_model(path)"
            if isinstance(model, (str, os.PathLike))
            else ""
        )
        raise TypeError(
            f"model must be a tf.keras.Model, got {type(model).__name__} "
            f"{reprlib.repr(model)}{hint}"
        )
    if not model.built or not model.inputs:
        raise TypeError(
            f"Keras model {model.name!r} has no input shape yet: start it with "
            "tf.keras.Input(shape) (e.g. tf.keras.Sequential([tf.keras.Input((28, 28, "
            "1)), ...])), or call model.build((None, *shape)) first"
        )
    if one_input and (len(model.inputs) != 1 or len(model.outputs) != 1):
        raise TypeError(
            f"Keras model {model.name!r} has {len(model.inputs)} inputs and "
            f"{len(model.outputs)} outputs; the package's networks go from one "
            "input (the image) to one output (the class scores)"
        )


def _split_dropout(noise):
    """(noise without its last Dropout component, that dropout's rate or 0)."""
    from nengo_softlif.neurons.noise import Compose, Dropout  # noqa: PLC0415

    parts = [] if noise is None else list(noise.components())
    if not parts or not isinstance(parts[-1], Dropout):
        return noise, 0.0
    rate, rest = parts[-1].rate, parts[:-1]
    return (None if not rest else rest[0] if len(rest) == 1 else Compose(*rest)), rate


def _neuron_setting(layer):
    """(neuron type, LIFParams-like values, dropout rate) of a Keras neuron layer."""
    from nengo_softlif.neurons.softlif import LIFParams  # noqa: PLC0415

    noise, dropout = _split_dropout(layer.noise)
    if isinstance(layer, SoftLIF):
        neuron_type = layer.nengo_neuron_type(noise=noise)
        lif = LIFParams(layer.tau_rc, layer.tau_ref, layer.amplitude, layer.gain, 1.0)
    else:
        neuron_type = RectifiedLinear(amplitude=layer.amplitude, noise=noise)
        lif = LIFParams(0.02, 0.002, layer.amplitude, layer.gain, 0.0)
    return neuron_type, lif, dropout


def _unsupported(layer, why):
    return TypeError(
        f"Cannot turn Keras layer {layer.name!r} ({type(layer).__name__}) into the "
        f"package's network: {why}"
    )


def from_keras(model, name=None, seed=0, swap_activations=None, fold_batch_norm=True):
    """The package network (`.SoftLIFNetwork`) of a sequential tf.keras model.

    The model must be made of ``Conv2D`` / ``LocallyConnected2D`` (optionally
    after ``ZeroPadding2D``) / :class:`.LocallyConnected` / ``Dense`` layers, each
    followed by one neuron layer (:class:`.SoftLIF` or `.RectifiedLinearRates`,
    all with the same constants; a layer whose gain differs from the last one's,
    as :func:`.scale_initial_weights` makes the first, has the ratio folded into
    the weights before it), ``AveragePooling2D`` ('same'),
    ``Flatten`` and ``Dropout``, and a last ``Dense`` without activation (the
    read-out). Linear layer biases are folded into the neurons' per-neuron bias
    (``gain * b + bias``). It may be a chain or have residual merges: ``Add``
    and ``Concatenate`` (channels, the last axis) of layers of matching shapes,
    each optionally followed by a neuron layer (`.Add` / `.Concatenate` with
    ``neurons=True``); a weight layer read only by merges needs no neurons (a
    linear layer, ``neurons=False``, with its bias), as the second convolution
    of a residual block or a 1x1 projection of its skip. The result trains, converts to spikes and evaluates on
    every backend like any network from :func:`nengo_softlif.build_network`.

    A model as people write it (``activation="relu"`` in its layers, ``ReLU``
    layers, ``BatchNormalization``) is first rewritten by
    :func:`.rewrite_model`: activations become the neuron layers that
    ``swap_activations`` names, batch normalization is folded into the layer
    before it.

    Parameters
    ----------
    model : tf.keras.Model
    name : str, optional
        Architecture name (default: the model's name).
    seed : int
        Seed of the nengo network.
    swap_activations : dict, optional
        What each Keras activation becomes, e.g. ``{"relu": RectifiedLinearRates}``
        (the same outputs) or ``{"relu": SoftLIF.from_preset("mnist")}``; see
        :func:`.rewrite_model`.
    fold_batch_norm : bool
        Fold ``BatchNormalization`` (inference statistics) into the layer before
        it; if False it is refused.

    Returns
    -------
    SoftLIFNetwork
        Its ``keras_rewrites`` attribute lists what was rewritten (e.g.
        ``"conv2d: relu -> RectifiedLinearRates()"``); empty if nothing was.

    Raises
    ------
    TypeError
        If ``model`` is not a built one-input, one-output tf.keras model; or
        naming the first layer that does not fit, and what to use instead
        (merges other than ``Add`` and ``Concatenate``, merges of tensors of
        different shapes, layers used twice).
    """
    from nengo_softlif.network.architectures import (  # noqa: PLC0415
        Architecture,
        build_network,
    )

    check_model(model)
    rewritten = rewrite_model(model, swap_activations, fold_batch_norm)
    model = rewritten.model
    graph = KerasGraph(model)
    read = _read_layers(graph, tuple(int(d) for d in model.input_shape[1:]))
    if not read.specs or not isinstance(read.specs[-1], Output):
        raise TypeError("The model must end in a linear Dense read-out layer")
    if read.neuron is None:
        raise TypeError("The model has no nengo_softlif.keras neuron layer")
    architecture = Architecture(name or model.name, read.input_shape, read.named())
    net = build_network(architecture, read.neuron[0], read.neuron[1], seed=seed)
    _set_values(net, architecture, read.values)
    net.keras_rewrites = rewritten.changes
    return net


class _Source(NamedTuple):
    """What a Keras layer's output is in the package's network: the output of
    spec ``index`` (-1: the input), of ``shape``, padded by ``pad`` pixels."""

    index: int
    shape: tuple
    pad: int = 0


class _Reading:
    """What :func:`from_keras` has read so far from the graph of Keras layers.

    ``specs``, ``values`` (per layer, None or the ``weights`` and ``bias``
    parameters) and ``inputs`` (per layer, the indices of the specs it reads)
    grow together; ``out`` holds the `_Source` of every Keras layer read,
    ``neuron`` the neuron setting of the first neuron layer with the network's
    ``gain``: that of the last neuron layer (other gains are folded into the
    weights before their layer).
    """

    def __init__(self, graph, input_shape):
        self.graph = graph
        self.input_shape = input_shape
        self.specs, self.values, self.inputs = [], [], []
        self.neuron = None
        neurons = [
            layer
            for layer in graph.layers
            if isinstance(layer, (SoftLIF, RectifiedLinearRates))
        ]
        self.gain = float(neurons[-1].gain) if neurons else 1.0
        self.out = {graph.input_layer.name: _Source(-1, input_shape)}

    def source(self, layer):
        """The `_Source` of the (first) layer ``layer`` reads."""
        return self.out[self.graph.inbound(layer)[0].name]

    def add(self, spec, value, sources, layers, shape):
        """Append ``spec`` reading ``sources``; it is what ``layers`` output."""
        index = len(self.specs)
        self.specs.append(spec)
        self.values.append(value)
        self.inputs.append(tuple(s.index for s in sources))
        for layer in layers:
            self.out[layer.name] = _Source(index, tuple(int(d) for d in shape))

    def named(self):
        """The specs, with the names of their inputs where they are not a chain."""
        from nengo_softlif.network.architectures import (  # noqa: PLC0415
            INPUT,
            layer_names,
        )

        names = layer_names(self.specs)
        specs = []
        for k, (spec, inputs) in enumerate(zip(self.specs, self.inputs, strict=True)):
            inputs = tuple(INPUT if i < 0 else names[i] for i in inputs)
            if is_merge(spec) or inputs != ((names[k - 1] if k else INPUT),):
                spec = dataclasses.replace(spec, inputs=inputs)
            specs.append(spec)
        return tuple(specs)


def _read_layers(graph, input_shape):
    """Read the graph of Keras layers into layer specs and values."""
    read = _Reading(graph, input_shape)
    for i, layer in enumerate(graph.layers):
        if layer.name not in read.out:
            _read_layer(read, graph.layers, i)
    return read


def _read_layer(read, layers, i):
    """Read ``layers[i]`` (and the neuron layer that goes with it)."""
    layer = layers[i]
    kind = type(layer)
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise _unsupported(
            layer,
            f"data_format={layer.data_format!r}: the package's images are channels "
            "last; use data_format='channels_last'",
        )
    if len(read.graph.inbound(layer)) > 1:
        _read_merge(read, layer)
        return
    source = read.source(layer)
    if kind is tf.keras.layers.Reshape and source.index < 0 and not read.specs:
        # flat images in, reshaped first (as keras_model's models)
        read.input_shape = tuple(int(d) for d in layer.target_shape)
        read.out[layer.name] = _Source(-1, read.input_shape)
    elif kind in (tf.keras.layers.Flatten, tf.keras.layers.Dropout):
        read.out[layer.name] = source
    elif kind is tf.keras.layers.ZeroPadding2D:
        read.out[layer.name] = source._replace(pad=_padding(layer))
    elif kind is tf.keras.layers.AveragePooling2D:
        spec = _pool_spec(layer, source.shape)
        read.add(spec, None, [source], [layer], layer.output_shape[1:])
    elif kind is tf.keras.layers.Dense and not any(
        isinstance(later, (tf.keras.layers.Dense, tf.keras.layers.Conv2D))
        for later in layers[i + 1 :]
    ):
        spec, value = _readout(layer)
        read.add(spec, value, [source], [layer], (spec.units,))
    elif isinstance(layer, RateNeurons):
        raise _unsupported(
            layer,
            "neurons go right after a Conv2D, Dense or locally-connected layer "
            "(or its BatchNormalization), or after an Add or Concatenate",
        )
    else:
        _read_weight_layer(read, layer, read.graph.sole_reader(layer))


def _use_neurons(read, nxt, dense):
    """The neuron setting of the neuron layer ``nxt``, checked against the others.

    The network's gain is ``read.gain``; a layer of another gain has the ratio
    folded into the weights before it (see `_gain_ratio`).
    """
    setting = _neuron_setting(nxt)
    if read.neuron is None:
        lif = dataclasses.replace(setting[1], gain=read.gain)
        read.neuron = (setting[0], lif, setting[2])
    elif setting[0] != read.neuron[0]:
        raise _unsupported(nxt, "all neuron layers must have the same settings")
    if setting[2] and not dense:
        raise _unsupported(nxt, "dropout in the noise is for Dense layers only")
    return setting


def _read_merge(read, layer):
    """Read an ``Add`` or ``Concatenate`` (and the neuron layer after it)."""
    if not isinstance(layer, MERGES):
        raise _unsupported(
            layer,
            "only Add and Concatenate merges have an equivalent in the package's "
            "networks (nengo sums what arrives at a layer, and concatenates into "
            "slices of it); write the model with Add or Concatenate",
        )
    sources = [read.out[source.name] for source in read.graph.inbound(layer)]
    shapes = [s.shape for s in sources]
    if any(s.pad for s in sources):
        raise _unsupported(layer, "it merges a ZeroPadding2D output; pad afterwards")
    if isinstance(layer, tf.keras.layers.Concatenate):
        rank = len(shapes[0]) + 1
        if layer.axis not in (-1, rank - 1):
            raise _unsupported(
                layer,
                f"it concatenates axis {layer.axis}; the package concatenates "
                "channels (the last axis): use Concatenate(axis=-1)",
            )
        same = len({s[:-1] for s in shapes}) == 1 and len({len(s) for s in shapes}) == 1
    else:
        same = len(set(shapes)) == 1
    if not same:
        raise _unsupported(
            layer,
            f"it merges tensors of shapes {shapes}, which do not match (Keras "
            "broadcasting has no equivalent); give the branches the same shape "
            "(e.g. a 1x1 Conv2D projection with strides on the skip)",
        )
    out_shape = tuple(int(d) for d in layer.output_shape[1:])
    nxt = read.graph.sole_reader(layer)
    kind = Add if isinstance(layer, tf.keras.layers.Add) else Concatenate
    placeholder = tuple(str(i) for i in range(len(sources)))
    if not isinstance(nxt, (SoftLIF, RectifiedLinearRates)):
        read.add(kind(placeholder), None, sources, [layer], out_shape)
        return
    _use_neurons(read, nxt, dense=False)
    if _gain_ratio(read, nxt) != 1:
        raise _unsupported(
            nxt,
            f"its gain ({nxt.gain:g}) differs from that of the model's last neuron "
            f"layer ({read.gain:g}), which after a merge cannot be folded into "
            "weights; give the neuron layers after merges that gain",
        )
    value = {"bias": _neuron_bias(None, nxt, out_shape).ravel()}
    read.add(kind(placeholder, neurons=True), value, sources, [layer, nxt], out_shape)


def _padding(layer):
    """The padding of a ``ZeroPadding2D`` layer (equal on all sides)."""
    (top, bottom), (left, right) = layer.padding
    if not top == bottom == left == right:
        raise _unsupported(layer, "only equal padding on all sides is supported")
    return top


def _pool_spec(layer, shape):
    """The `.AvgPool` of an ``AveragePooling2D`` layer on inputs of ``shape``."""
    size, stride = layer.pool_size[0], layer.strides[0]
    if size != layer.pool_size[1] or stride != layer.strides[1]:
        raise _unsupported(layer, "use square windows and strides")
    pool = AveragePoolSparse(shape, size, stride)
    same = tuple(pool.output_shape) == tuple(
        int(d) for d in layer.output_shape[1:]
    ) and (layer.padding == "valid" or pool.same_padding)
    if not same:
        raise _unsupported(
            layer,
            "its windows differ from the package's (which start at the first "
            "pixel and are clipped at the far edge); use padding='same' or "
            "sizes that tile the image",
        )
    return AvgPool(size, stride)


def _readout(layer):
    """The `.Output` spec and values of the last (linear) ``Dense`` layer."""
    if layer.activation not in (None, tf.keras.activations.linear):
        raise _unsupported(layer, "the read-out Dense layer must be linear")
    bias = layer.bias.numpy() if layer.use_bias else np.zeros(layer.units)
    return Output(layer.units), {
        "weights": layer.kernel.numpy().T,
        "bias": bias[:, None],
    }


def _read_weight_layer(read, layer, nxt):
    """Read a weight layer and the neuron layer ``nxt`` after it.

    Without neurons after it, a weight layer read only by merges is linear.
    """
    kind = type(layer)
    readers = read.graph.readers(layer)
    linear = readers and all(len(read.graph.inbound(r)) > 1 for r in readers)
    if not isinstance(nxt, (SoftLIF, RectifiedLinearRates)) and not linear:
        hint = (
            "" if kind is not tf.keras.layers.MaxPooling2D else "; use AveragePooling2D"
        )
        raise _unsupported(
            layer,
            "expected a weight layer followed by a nengo_softlif.keras.SoftLIF "
            f"layer (or by an activation given in swap_activations){hint}",
        )
    if getattr(layer, "activation", None) not in (
        None,
        tf.keras.activations.linear,
    ):
        raise _unsupported(layer, "its activation must be linear (the neurons follow)")
    source = read.source(layer)
    if linear and not isinstance(nxt, (SoftLIF, RectifiedLinearRates)):
        spec, weights = _weight_spec(layer, source, 0.0)
        out_shape = tuple(int(d) for d in layer.output_shape[1:])
        value = {"weights": weights, "bias": _layer_bias(layer, out_shape)[:, None]}
        spec = dataclasses.replace(spec, neurons=False)
        read.add(spec, value, [source], [layer], out_shape)
        return
    setting = _use_neurons(read, nxt, dense=kind is tf.keras.layers.Dense)
    spec, weights = _weight_spec(layer, source, setting[2])
    weights = weights * _gain_ratio(read, nxt)
    out_shape = tuple(int(d) for d in nxt.output_shape[1:])
    value = {"weights": weights, "bias": _neuron_bias(layer, nxt, out_shape).ravel()}
    read.add(spec, value, [source], [layer, nxt], out_shape)


def _gain_ratio(read, nxt):
    """The gain of the neuron layer ``nxt`` over the network's gain.

    ``gain_nxt * (W x + b) + bias = gain * (ratio * W x) + (gain_nxt * b + bias)``:
    the ratio multiplies the weights before ``nxt``, and its bias folds in with
    ``nxt``'s own gain (`_neuron_bias`).
    """
    return float(nxt.gain) / read.gain


def _weight_spec(layer, source, dropout):
    """The layer spec and weights of a Conv2D, locally-connected or Dense layer."""
    kind = type(layer)
    if kind is tf.keras.layers.Conv2D:
        return _conv_spec(layer, source.pad)
    if kind in (tf.keras.layers.LocallyConnected2D, LocallyConnected):
        return _locally_connected_spec(layer, source.shape, source.pad)
    if kind is tf.keras.layers.Dense:
        return Dense(layer.units, dropout=dropout), layer.kernel.numpy().T
    raise _unsupported(layer, "no equivalent layer in nengo_softlif.network.layers")


def _conv_spec(layer, pad):
    """The `.Conv` spec and kernel of a ``Conv2D`` layer."""
    if pad or layer.strides[0] != layer.strides[1] or layer.dilation_rate != (1, 1):
        raise _unsupported(layer, "use square strides, no dilation, no ZeroPadding")
    if layer.groups != 1:
        raise _unsupported(
            layer, f"grouped convolution (groups={layer.groups}); use groups=1"
        )
    k = layer.kernel_size[0]
    if k != layer.kernel_size[1]:
        raise _unsupported(layer, f"kernel {layer.kernel_size}: use a square kernel")
    if layer.padding == "same" and k % 2 == 0:
        raise _unsupported(
            layer,
            f"padding='same' with an even kernel ({k}) pads one more row and column "
            "after the image than before it, which the package's convolutions "
            "(equal padding on all sides) cannot do; use an odd kernel, or "
            "padding='valid'",
        )
    spec = Conv(
        layer.filters,
        k,
        padding=(k - 1) // 2 if layer.padding == "same" else 0,
        stride=layer.strides[0],
    )
    return spec, layer.kernel.numpy()


def _locally_connected_spec(layer, shape, pad):
    """The `.LocallyConnected` spec and weights of a locally-connected layer.

    ``layer`` is a :class:`.LocallyConnected` or a ``LocallyConnected2D`` (on
    inputs of ``shape``, after a ``ZeroPadding2D`` of ``pad``); the weights are
    those of the `.LocallyConnectedSparse` transform.
    """
    kind = type(layer)
    if kind is LocallyConnected:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        kernel = layer.kernel.numpy()
    else:
        if layer.implementation not in (1, 2):
            raise _unsupported(layer, "use implementation=1 or 2")
        k, s, p = layer.kernel_size[0], layer.strides[0], pad
        kernel = layer.kernel.numpy()
    spec = LocallyConnectedSpec(layer.filters, k, padding=p, stride=s)
    transform = LocallyConnectedSparse(shape, layer.filters, k, stride=s, padding=p)
    if kind is tf.keras.layers.LocallyConnected2D and layer.implementation == 2:
        from nengo_softlif.keras.converters import (  # noqa: PLC0415
            ConvertKerasLocallyConnected2D,
        )

        kernel = ConvertKerasLocallyConnected2D.per_pixel(kernel, transform)
    return spec, kernel.ravel()[transform.dense_positions()]


def _layer_bias(layer, out_shape):
    """A weight layer's bias, one value per output (flat), zeros if it has none."""
    if not getattr(layer, "use_bias", False):
        return np.zeros(int(np.prod(out_shape)))
    per = out_shape if type(layer) is not tf.keras.layers.Conv2D else (layer.filters,)
    return np.broadcast_to(layer.bias.numpy().reshape(per), out_shape).ravel()


def _neuron_bias(layer, nxt, out_shape):
    """The neurons' bias with the weight layer's bias (if any) folded in
    (``gain * b``)."""
    bias = (
        np.zeros(out_shape) if nxt.bias is None else nxt.bias.numpy().reshape(out_shape)
    )
    if layer is not None:
        bias = bias + nxt.gain * _layer_bias(layer, out_shape).reshape(out_shape)
    return bias


def _set_values(net, architecture, values):
    """Set the weights and biases read from the Keras layers on the network."""
    from nengo_softlif.network.checkpoint import get_params, set_params  # noqa: PLC0415

    params = get_params(net)
    for layer_name, value in zip(architecture.layer_names(), values, strict=True):
        for key, array in (value or {}).items():
            params[f"{layer_name}.{key}"] = np.asarray(array, dtype=float).reshape(
                params[f"{layer_name}.{key}"].shape
            )
    set_params(net, params)
