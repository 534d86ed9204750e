"""Layer specifications and the builders that turn them into plain nengo objects.

A network is described by data: a list of layer specs (`.Conv`, `.AvgPool`,
`.LocallyConnected`, `.Dense`, `.Output`, and the merges `.Add` and
`.Concatenate` of :mod:`nengo_softlif.network.merges`). Each layer takes the
output of the layer before it, or of the layers its ``inputs`` name (the
network's input is ``"input"``), so the network is a chain or a small graph. :func:`build_layer` turns one spec into
nengo objects (ensembles, nodes, connections with `nengo.Convolution`,
`nengo.Sparse` or `nengo.Dense` transforms), so that the same network trains in
nengo-dl and runs as spikes in nengo, nengo-dl or nengo-loihi.

Builders are kept in the registry :data:`LAYER_BUILDERS`; a new kind of layer is
added with :func:`register_layer`, without touching the others.

Conventions: images are flattened channels-last ``(height, width, channels)``.
Every layer with neurons is one `nengo.Ensemble` (one dimension, unused encoders)
whose neurons receive the layer's weighted input directly, ``J = gain * (W x) +
bias``; ``bias`` is per neuron and trainable, starting at the neuron preset's bias.
A weight layer with ``neurons=False`` is linear: its output is a passthrough node
with a trainable per-value bias (as the read-out), to be summed or concatenated
with other layers before neurons see it.
"""

import dataclasses
import math

import nengo
import numpy as np

from nengo_softlif import registry
from nengo_softlif.compat import set_trainable
from nengo_softlif.neurons.softlif import replace_params
from nengo_softlif.transforms.sparse import (
    POOL_EDGES,
    AveragePoolSparse,
    LocallyConnectedSparse,
    window_indices,
)

__all__ = [
    "Conv",
    "AvgPool",
    "MaxPool",
    "LocallyConnected",
    "Dense",
    "Output",
    "LayerContext",
    "BuiltLayer",
    "LAYER_BUILDERS",
    "register_layer",
    "build_layer",
    "window_indices",
]


def _check_spec(spec, whole=(), optional=(), at_least=None):
    """Refuse a layer spec whose sizes are not whole numbers (e.g. 16.5).

    ``whole`` fields must be whole numbers >= 1 (``at_least`` overrides the
    bound per field); ``optional`` ones may also be None.
    """
    at_least = at_least or {}
    for name in (*whole, *optional):
        value = getattr(spec, name)
        if value is None and name in optional:
            continue
        low = at_least.get(name, 1)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, np.integer))
            or value < low
        ):
            raise ValueError(
                f"{type(spec).__name__} {name} must be a whole number >= {low}, got "
                f"{value!r}"
            )
    name = getattr(spec, "name", None)
    if name is not None and not isinstance(name, str):
        raise ValueError(
            f"{type(spec).__name__} name must be a string or None, got {name!r}"
        )
    check_inputs(spec)
    neurons = getattr(spec, "neurons", True)
    if not isinstance(neurons, (bool, np.bool_)):
        raise ValueError(
            f"{type(spec).__name__} neurons must be True or False, got {neurons!r}"
        )


def check_inputs(spec):
    """Make a spec's ``inputs`` a tuple of layer names (None: the layer before).

    Raises
    ------
    ValueError
        If ``inputs`` is not None or a sequence of names.
    """
    inputs = getattr(spec, "inputs", None)
    if inputs is None:
        return
    if isinstance(inputs, str):
        inputs = (inputs,)
    if not isinstance(inputs, (tuple, list)) or not all(
        isinstance(n, str) for n in inputs
    ):
        raise ValueError(
            f"{type(spec).__name__} inputs must be layer names (e.g. ('conv1', "
            f"'pool1'); 'input' is the network's input) or None, got {inputs!r}"
        )
    object.__setattr__(spec, "inputs", tuple(inputs))


def _graph_field(default):
    """A field of the graph description, left out of `.Architecture.to_dict` when
    it has its default (so chain architectures are written as before)."""
    return dataclasses.field(default=default, metadata={"omit_default": True})


@dataclasses.dataclass(frozen=True)
class Conv:
    """Convolution with ``filters`` kernels of ``kernel x kernel``, then neurons.

    ``padding`` is in pixels on each side: 0 ("valid") or ``(kernel - 1) // 2``
    ("same", as the paper's pad 2 for 5x5 and pad 1 for 3x3). With
    ``neurons=False`` the layer is linear (a passthrough node with a bias).
    ``inputs`` names the layer it reads (default: the layer before).
    """

    filters: int
    kernel: int
    padding: int = 0
    stride: int = 1
    name: str | None = None
    neurons: bool = _graph_field(True)
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(
            self, ("filters", "kernel", "padding", "stride"), at_least={"padding": 0}
        )


@dataclasses.dataclass(frozen=True)
class AvgPool:
    """Average pooling over ``size x size`` windows every ``stride`` pixels.

    Windows start at pixel 0: 24 -> 12 for size 3 stride 2. With
    ``edges="clipped"`` (the default) windows that run past the far edge average
    only the pixels inside (as cuda-convnet's pooling, used by the paper); with
    ``edges="padded"`` they divide by the full window, the missing pixels zero,
    which is what pools on Loihi compute exactly (see
    `nengo_softlif.backends.loihi`). Implemented as a fixed, non-trainable
    `.AveragePoolSparse` weight pattern on the connection that leaves the
    previous layer's neurons.
    """

    size: int
    stride: int | None = None
    name: str | None = None
    edges: str = dataclasses.field(default="clipped", metadata={"omit_default": True})
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(self, ("size",), ("stride",))
        if self.edges not in POOL_EDGES:
            raise ValueError(
                f"AvgPool edges must be one of {list(POOL_EDGES)}, got {self.edges!r}"
            )


@dataclasses.dataclass(frozen=True)
class MaxPool:
    """Max pooling (TensorFlow 'SAME' windows): static nengo-dl networks only.

    The paper's original ReLU networks used it; it has no spiking equivalent, so
    networks with max pooling can be trained and evaluated statically in nengo-dl
    but not converted with :func:`nengo_softlif.to_spiking`.
    """

    size: int
    stride: int | None = None
    name: str | None = None
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(self, ("size",), ("stride",))


@dataclasses.dataclass(frozen=True)
class LocallyConnected:
    """Locally-connected layer (a convolution with untied weights), then neurons.

    Implemented as a trainable `.LocallyConnectedSparse` (a `nengo.Sparse`);
    ``neurons`` and ``inputs`` as for `.Conv`.
    """

    filters: int
    kernel: int
    padding: int = 0
    stride: int = 1
    name: str | None = None
    neurons: bool = _graph_field(True)
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(
            self, ("filters", "kernel", "padding", "stride"), at_least={"padding": 0}
        )


@dataclasses.dataclass(frozen=True)
class Dense:
    """Fully-connected layer of ``units`` neurons, with optional dropout on them.

    Dropout acts in training only, as a training-noise model on the neurons
    (`.Dropout`), so it needs a neuron type with a ``noise`` parameter.
    ``neurons`` and ``inputs`` as for `.Conv` (a linear layer has no dropout).
    """

    units: int
    dropout: float = 0.0
    name: str | None = None
    neurons: bool = _graph_field(True)
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(self, ("units",))
        if not self.neurons and self.dropout:
            raise ValueError(
                f"Dense dropout={self.dropout} acts on neurons, but this layer has "
                "neurons=False; use dropout=0 for a linear layer"
            )
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float, np.number))
            or not 0 <= self.dropout < 1
        ):
            raise ValueError(
                f"Dense dropout must be a number in [0, 1), got {self.dropout!r}"
            )


@dataclasses.dataclass(frozen=True)
class Output:
    """Linear read-out of ``units`` values (no neurons), with a trainable bias."""

    units: int
    name: str | None = None
    inputs: tuple | None = _graph_field(None)

    def __post_init__(self):
        _check_spec(self, ("units",))


@dataclasses.dataclass
class LayerContext:
    """What a layer builder needs to know about the network being built.

    Parameters
    ----------
    network : `nengo.Network`
        The network being built (the builder is called inside its context).
    source : nengo object
        The output of the previous layer (a node, or an ensemble's neurons).
    shape : tuple of int
        Shape ``(height, width, channels)`` or ``(n,)`` of ``source``.
    neuron_type : `nengo.neurons.NeuronType`
        Neuron type of layers with neurons.
    gain, bias : float
        Gain and initial bias of every neuron.
    rng : `numpy.random.Generator`
        For weight initialisation.
    inputs : list of `.BuiltLayer`
        Every input of the layer (``source`` and ``shape`` are the first's);
        merge layers read them all.
    """

    network: nengo.Network
    source: object
    shape: tuple
    neuron_type: nengo.neurons.NeuronType
    gain: float
    bias: float
    rng: np.random.Generator
    inputs: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BuiltLayer:
    """What a layer builder made: its output, its shape and its nengo objects."""

    name: str
    output: object
    shape: tuple
    ensemble: nengo.Ensemble | None = None
    connection: nengo.Connection | None = None
    bias_connection: nengo.Connection | None = None


#: Layer spec type -> builder ``f(spec, name, ctx) -> BuiltLayer``.
LAYER_BUILDERS = registry.Registry("layer builder")


def register_layer(spec_type):
    """Decorator: register the builder of a layer spec type."""

    def register(builder):
        return registry.add(LAYER_BUILDERS, spec_type, builder, "layer builder")

    return register


def build_layer(spec, name, ctx):
    """Build one layer spec into nengo objects inside ``ctx.network``.

    Parameters
    ----------
    spec : layer spec
        One of the registered spec types.
    name : str
        Label of the layer (used for parameters in checkpoints).
    ctx : `.LayerContext`
        The network and the previous layer's output.

    Returns
    -------
    BuiltLayer
    """
    builder = LAYER_BUILDERS.get(type(spec))
    if builder is None:
        raise TypeError(
            f"Unsupported layer {spec!r}: supported layers are "
            f"{sorted(t.__name__ for t in LAYER_BUILDERS)}; register a builder for "
            "new kinds with nengo_softlif.network.layers.register_layer"
        )
    return builder(spec, name, ctx)


def _require_image(shape, spec):
    if len(shape) != 3:
        raise ValueError(
            f"{type(spec).__name__} needs an image input (height, width, channels) "
            f"but the previous layer gives shape {shape}; put it before any Dense layer"
        )


def _same_or_valid(spec):
    if spec.padding == 0:
        return "valid"
    if 2 * spec.padding == spec.kernel - 1:
        return "same"
    if spec.kernel % 2 == 0:
        raise ValueError(
            f"{type(spec).__name__} padding {spec.padding} with kernel {spec.kernel}: "
            "an even kernel has no 'same' padding (equal on all sides); use padding "
            "0 ('valid'), or an odd kernel"
        )
    raise ValueError(
        f"{type(spec).__name__} padding {spec.padding} with kernel {spec.kernel}: "
        f"use 0 ('valid') or {(spec.kernel - 1) // 2} ('same')"
    )


def glorot_limit(fan_in, fan_out):
    """Limit of the Glorot (Xavier) uniform initialisation."""
    return math.sqrt(6.0 / (fan_in + fan_out))


def _neuron_layer(name, n, ctx, neuron_type=None):
    return nengo.Ensemble(
        n,
        1,
        neuron_type=ctx.neuron_type if neuron_type is None else neuron_type,
        gain=np.full(n, ctx.gain),
        bias=np.full(n, ctx.bias),
        label=name,
    )


def bias_connection(node, name, n):
    """A trainable bias (initially zero) into the passthrough ``node``."""
    ones = nengo.Node(np.ones(1), label=f"{name}.bias_input")
    return nengo.Connection(
        ones, node, transform=np.zeros((n, 1)), synapse=None, label=f"{name}.bias"
    )


def layer_target(name, n, ctx, neurons=True, bias=True, neuron_type=None):
    """Where a layer's input goes: ``n`` neurons, or a passthrough node.

    Returns
    -------
    target : nengo object
        ``ensemble.neurons``, or the node (the layer's output in both cases).
    ensemble : `nengo.Ensemble` or None
    bias : `nengo.Connection` or None
        The node's trainable bias (if ``bias``; neurons have their own).
    """
    if neurons:
        ens = _neuron_layer(name, n, ctx, neuron_type=neuron_type)
        return ens.neurons, ens, None
    node = nengo.Node(size_in=n, label=name)
    return node, None, bias_connection(node, name, n) if bias else None


def _weight_layer(spec, name, n, shape, ctx, transform, neuron_type=None):
    """A weight layer's target (neurons or linear) behind ``transform``."""
    target, ens, bias = layer_target(
        name, n, ctx, neurons=spec.neurons, neuron_type=neuron_type
    )
    conn = _connect(ctx, target, transform, name)
    return BuiltLayer(
        name, target, shape, ensemble=ens, connection=conn, bias_connection=bias
    )


def _connect(ctx, post, transform, name):
    return nengo.Connection(
        ctx.source, post, transform=transform, synapse=None, label=f"{name}.weights"
    )


@register_layer(Conv)
def build_conv(spec, name, ctx):
    """Build a `.Conv` layer."""
    _require_image(ctx.shape, spec)
    padding = _same_or_valid(spec)
    channels = ctx.shape[2]
    fan_in = spec.kernel**2 * channels
    limit = glorot_limit(fan_in, spec.kernel**2 * spec.filters)
    transform = nengo.Convolution(
        n_filters=spec.filters,
        input_shape=ctx.shape,
        kernel_size=(spec.kernel, spec.kernel),
        strides=(spec.stride, spec.stride),
        padding=padding,
        channels_last=True,
        init=ctx.rng.uniform(
            -limit, limit, size=(spec.kernel, spec.kernel, channels, spec.filters)
        ),
    )
    shape = tuple(transform.output_shape.shape)
    return _weight_layer(spec, name, int(np.prod(shape)), shape, ctx, transform)


@register_layer(LocallyConnected)
def build_locally_connected(spec, name, ctx):
    """Build a `.LocallyConnected` layer (a trainable `.LocallyConnectedSparse`)."""
    _require_image(ctx.shape, spec)
    _same_or_valid(spec)
    limit = glorot_limit(spec.kernel**2 * ctx.shape[2], spec.kernel**2 * spec.filters)
    transform = LocallyConnectedSparse(
        ctx.shape, spec.filters, spec.kernel, stride=spec.stride, padding=spec.padding
    )
    n_out = transform.size_out
    transform = transform.with_weights(
        ctx.rng.uniform(-limit, limit, size=len(transform.indices))
    )
    return _weight_layer(spec, name, n_out, transform.output_shape, ctx, transform)


@register_layer(AvgPool)
def build_avg_pool(spec, name, ctx):
    """Build an `.AvgPool` layer: a node behind a fixed `.AveragePoolSparse`."""
    _require_image(ctx.shape, spec)
    transform = AveragePoolSparse(ctx.shape, spec.size, spec.stride, spec.edges)
    shape = transform.output_shape
    node = nengo.Node(size_in=int(np.prod(shape)), label=name)
    conn = _connect(ctx, node, transform, name)
    set_trainable(ctx.network.config, conn, False)
    return BuiltLayer(name, node, shape, connection=conn)


@register_layer(MaxPool)
def build_max_pool(spec, name, ctx):
    """Build a `.MaxPool` layer as a nengo-dl TensorNode (imports nengo-dl)."""
    from nengo_softlif.compat import import_nengo_dl  # pylint: disable=C0415

    nengo_dl = import_nengo_dl()
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    _require_image(ctx.shape, spec)
    stride = spec.size if spec.stride is None else spec.stride
    height, width, channels = ctx.shape
    shape = (math.ceil(height / stride), math.ceil(width / stride), channels)

    def max_pool(x):
        images = tf.reshape(x, (-1, height, width, channels))
        pooled = tf.nn.max_pool2d(images, spec.size, stride, padding="SAME")
        return tf.reshape(pooled, (-1, int(np.prod(shape))))

    node = nengo_dl.TensorNode(
        max_pool,
        shape_in=(int(np.prod(ctx.shape)),),
        shape_out=(int(np.prod(shape)),),
        pass_time=False,
        label=name,
    )
    conn = nengo.Connection(ctx.source, node, synapse=None, label=f"{name}.input")
    return BuiltLayer(name, node, shape, connection=conn)


def _dense_transform(n_in, n_out, rng):
    limit = glorot_limit(n_in, n_out)
    return nengo.Dense(
        (n_out, n_in), init=rng.uniform(-limit, limit, size=(n_out, n_in))
    )


@register_layer(Dense)
def build_dense(spec, name, ctx):
    """Build a `.Dense` layer of neurons (with training-only dropout)."""
    neuron_type = ctx.neuron_type
    if spec.dropout > 0:
        neuron_type = with_dropout(neuron_type, spec.dropout)
    n_in = int(np.prod(ctx.shape))
    transform = _dense_transform(n_in, spec.units, ctx.rng)
    return _weight_layer(
        spec, name, spec.units, (spec.units,), ctx, transform, neuron_type
    )


@register_layer(Output)
def build_output(spec, name, ctx):
    """Build the linear `.Output` layer: a node with weights and a trainable bias."""
    n_in = int(np.prod(ctx.shape))
    node = nengo.Node(size_in=spec.units, label=name)
    # zero initial read-out: the initial loss is log(n_classes) whatever the
    # activity of the last hidden layer (rates are all positive and large)
    conn = _connect(
        ctx,
        node,
        nengo.Dense((spec.units, n_in), init=np.zeros((spec.units, n_in))),
        name,
    )
    bias = bias_connection(node, name, spec.units)
    return BuiltLayer(name, node, (spec.units,), connection=conn, bias_connection=bias)


def with_dropout(neuron_type, rate):
    """A copy of ``neuron_type`` whose training noise also drops out ``rate``.

    Raises
    ------
    TypeError
        If the neuron type has no ``noise`` parameter to carry the dropout.
    """
    from nengo_softlif.neurons.noise import Compose, Dropout  # pylint: disable=C0415

    if "noise" not in {p.name for p in neuron_type._params}:  # noqa: SLF001
        raise TypeError(
            f"Dropout needs a neuron type with training noise (such as "
            f"SoftLIFRate); {type(neuron_type).__name__} has none. Use dropout=0 "
            "for this layer or a SoftLIFRate neuron"
        )
    noise = (
        Dropout(rate)
        if neuron_type.noise is None
        else Compose(neuron_type.noise, Dropout(rate))
    )
    return replace_params(neuron_type, noise=noise)
