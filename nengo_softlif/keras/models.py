"""A package network as a tf.keras model with the same parameters, and back.

:func:`keras_model` builds, from a `.SoftLIFNetwork`, a ``tf.keras.Model`` that
computes exactly what nengo-dl computes for the network's rate version (same
currents, neurons, training noise and read-out), with the network's current
parameters. :func:`keras_params` reads the model's parameters back in the layout
of :func:`nengo_softlif.network.checkpoint.get_params`, so that a model trained in Keras
is the network's trained parameters: the same checkpoint, the same spiking network.
The other direction, a Keras model as a package network, is
:func:`nengo_softlif.keras.network.from_keras`. Networks with merges (`.Add`,
`.Concatenate`) become functional models with Keras ``Add`` / ``Concatenate``
layers (:mod:`nengo_softlif.keras.merge_adapters`).

Each layer spec has an adapter in :data:`KERAS_LAYERS`, and each neuron type a
Keras layer factory in :data:`KERAS_NEURONS`; both registries are extended with
:func:`register_keras_layer` and :func:`register_keras_neurons`.
"""

import numpy as np

from nengo_softlif import registry
from nengo_softlif.keras.layers import (
    LocallyConnected,
    RectifiedLinearRates,
    SoftLIF,
    tf,
)
from nengo_softlif.network.layers import (
    AvgPool,
    Conv,
    Dense,
    MaxPool,
    Output,
    with_dropout,
)
from nengo_softlif.network.layers import (
    LocallyConnected as LocallyConnectedSpec,
)
from nengo_softlif.neurons.softlif import RectifiedLinear, SoftLIFRate
from nengo_softlif.params import check_seed
from nengo_softlif.transforms.sparse import AveragePoolSparse, LocallyConnectedSparse

__all__ = [
    "KERAS_LAYERS",
    "KERAS_NEURONS",
    "register_keras_layer",
    "register_keras_neurons",
    "keras_model",
    "keras_params",
    "set_keras_params",
    "paper_model",
    "layer_output",
    "bias_variable",
]

#: Layer spec type -> adapter (``build``, ``to_keras``, ``from_keras``).
KERAS_LAYERS = registry.Registry("Keras layer adapter")

#: Neuron type -> ``factory(neuron_type, lif_params, name, seed) -> keras layer``.
KERAS_NEURONS = registry.Registry("Keras neuron layer")


def register_keras_layer(spec_type):
    """Decorator: register the Keras adapter class of a layer spec type.

    The adapter has three static methods: ``build(spec, name, x, ctx) -> y``
    adds the layer's Keras layers to the functional model (``x`` is the input
    tensor, or the list of them for a merge layer);
    ``to_keras(spec, name, params, model)`` assigns checkpoint-layout parameters;
    ``from_keras(spec, name, model) -> dict`` reads them back.
    """

    def register(adapter):
        return registry.add(KERAS_LAYERS, spec_type, adapter, "Keras layer adapter")

    return register


def register_keras_neurons(neuron_type):
    """Decorator: register the Keras layer factory of a rate neuron type."""

    def register(factory):
        return registry.add(KERAS_NEURONS, neuron_type, factory, "Keras neuron layer")

    return register


@register_keras_neurons(SoftLIFRate)
def _soft_lif(neuron_type, lif_params, name, seed):
    return SoftLIF(
        sigma=neuron_type.sigma,
        tau_rc=neuron_type.tau_rc,
        tau_ref=neuron_type.tau_ref,
        hard_forward=neuron_type.hard_forward,
        loihi_dt=neuron_type.loihi_dt,
        amplitude=neuron_type.amplitude,
        gain=lif_params.gain,
        bias=lif_params.bias,
        noise=neuron_type.noise,
        seed=seed,
        name=name,
    )


@register_keras_neurons(RectifiedLinear)
def _relu(neuron_type, lif_params, name, seed):
    return RectifiedLinearRates(
        amplitude=neuron_type.amplitude,
        gain=lif_params.gain,
        bias=lif_params.bias,
        noise=neuron_type.noise,
        seed=seed,
        name=name,
    )


class _Context:
    def __init__(self, net, seed):
        self.net, self.seed, self.index = net, seed, 0

    def neurons(self, name, neuron_type=None):
        neuron_type = self.net.neuron_type if neuron_type is None else neuron_type
        factory = KERAS_NEURONS.get(type(neuron_type))
        if factory is None:
            raise TypeError(
                f"Neuron type {type(neuron_type).__name__} has no Keras layer "
                f"(known: {sorted(t.__name__ for t in KERAS_NEURONS)}); train with "
                "engine='nengo-dl' or register one with register_keras_neurons"
            )
        self.index += 1
        return factory(
            neuron_type, self.net.lif_params, f"{name}_neurons", self.seed + self.index
        )


@tf.keras.utils.register_keras_serializable(package="nengo_softlif")
class ElementBias(tf.keras.layers.Layer):
    """A trainable bias per value (the bias of a linear layer, ``neurons=False``)."""

    def build(self, input_shape):
        self.bias = self.add_weight(
            name="bias", shape=tuple(input_shape[1:]), initializer="zeros"
        )
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias


def layer_output(spec, name, x, ctx, neuron_type=None):
    """The neurons of a layer on ``x``, or its bias if it is linear
    (``spec.neurons`` False)."""
    if getattr(spec, "neurons", True):
        return ctx.neurons(name, neuron_type)(x)
    return ElementBias(name=f"{name}_bias")(x)


def bias_variable(model, name):
    """The bias of layer ``name``: its neurons', or its linear bias."""
    names = {layer.name for layer in model.layers}
    if f"{name}_neurons" in names:
        return model.get_layer(f"{name}_neurons").bias
    return model.get_layer(f"{name}_bias").bias


@register_keras_layer(Conv)
class _ConvAdapter:
    @staticmethod
    def build(spec, name, x, ctx):
        padding = "valid" if spec.padding == 0 else "same"
        x = tf.keras.layers.Conv2D(
            spec.filters,
            spec.kernel,
            strides=spec.stride,
            padding=padding,
            use_bias=False,
            name=name,
        )(x)
        return layer_output(spec, name, x, ctx)

    @staticmethod
    def to_keras(spec, name, params, model):
        model.get_layer(name).kernel.assign(params[f"{name}.weights"])
        bias = bias_variable(model, name)
        bias.assign(params[f"{name}.bias"].reshape(bias.shape))

    @staticmethod
    def from_keras(spec, name, model):
        return {
            f"{name}.weights": model.get_layer(name).kernel.numpy(),
            f"{name}.bias": bias_variable(model, name).numpy().ravel(),
        }


@register_keras_layer(LocallyConnectedSpec)
class _LocalAdapter:
    @staticmethod
    def build(spec, name, x, ctx):
        x = LocallyConnected(
            spec.filters,
            spec.kernel,
            stride=spec.stride,
            padding=spec.padding,
            name=name,
        )(x)
        return layer_output(spec, name, x, ctx)

    @staticmethod
    def _positions(layer):
        transform = LocallyConnectedSparse(
            tuple(int(d) for d in layer.input_shape[1:]),
            layer.filters,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
        )
        return transform.dense_positions()

    @classmethod
    def to_keras(cls, spec, name, params, model):
        layer = model.get_layer(name)
        dense = np.zeros(int(np.prod(layer.kernel.shape)), dtype=np.float32)
        dense[cls._positions(layer)] = params[f"{name}.weights"]
        layer.kernel.assign(dense.reshape(layer.kernel.shape))
        bias = bias_variable(model, name)
        bias.assign(params[f"{name}.bias"].reshape(bias.shape))

    @classmethod
    def from_keras(cls, spec, name, model):
        layer = model.get_layer(name)
        values = layer.kernel.numpy().ravel()[cls._positions(layer)]
        return {
            f"{name}.weights": values,
            f"{name}.bias": bias_variable(model, name).numpy().ravel(),
        }


class _FixedAdapter:
    """Layers without trainable parameters."""

    @staticmethod
    def to_keras(spec, name, params, model):
        pass

    @staticmethod
    def from_keras(spec, name, model):
        return {}


@register_keras_layer(AvgPool)
class _AvgPoolAdapter(_FixedAdapter):
    @staticmethod
    def build(spec, name, x, ctx):
        transform = AveragePoolSparse(
            tuple(int(d) for d in x.shape[1:]), spec.size, spec.stride, spec.edges
        )
        if transform.edges == "padded":
            rows, cols = transform.far_padding
            if rows or cols:
                x = tf.keras.layers.ZeroPadding2D(
                    ((0, rows), (0, cols)), name=f"{name}_edges"
                )(x)
            return tf.keras.layers.AveragePooling2D(
                spec.size, transform.stride, padding="valid", name=name
            )(x)
        if not transform.same_padding:
            raise ValueError(
                f"Pooling layer {name!r} ({spec.size}x{spec.size}, stride "
                f"{transform.stride} on {x.shape[1]}x{x.shape[2]}) has windows that "
                "Keras's 'same' average pooling does not give; train with "
                "engine='nengo-dl'"
            )
        return tf.keras.layers.AveragePooling2D(
            spec.size, transform.stride, padding="same", name=name
        )(x)


@register_keras_layer(MaxPool)
class _MaxPoolAdapter(_FixedAdapter):
    @staticmethod
    def build(spec, name, x, ctx):
        stride = spec.size if spec.stride is None else spec.stride
        return tf.keras.layers.MaxPool2D(spec.size, stride, padding="same", name=name)(
            x
        )


def _dense_build(units, name, x):
    if len(x.shape) > 2:
        x = tf.keras.layers.Flatten(name=f"{name}_flatten")(x)
    return tf.keras.layers.Dense(units, use_bias=False, name=name)(x)


@register_keras_layer(Dense)
class _DenseAdapter:
    @staticmethod
    def build(spec, name, x, ctx):
        neuron_type = ctx.net.neuron_type
        if spec.dropout > 0:
            neuron_type = with_dropout(neuron_type, spec.dropout)
        x = _dense_build(spec.units, name, x)
        return layer_output(spec, name, x, ctx, neuron_type)

    @staticmethod
    def to_keras(spec, name, params, model):
        model.get_layer(name).kernel.assign(params[f"{name}.weights"].T)
        bias = bias_variable(model, name)
        bias.assign(params[f"{name}.bias"].reshape(bias.shape))

    @staticmethod
    def from_keras(spec, name, model):
        return {
            f"{name}.weights": model.get_layer(name).kernel.numpy().T,
            f"{name}.bias": bias_variable(model, name).numpy().ravel(),
        }


@register_keras_layer(Output)
class _OutputAdapter:
    @staticmethod
    def build(spec, name, x, ctx):
        if len(x.shape) > 2:
            x = tf.keras.layers.Flatten(name=f"{name}_flatten")(x)
        return tf.keras.layers.Dense(spec.units, kernel_initializer="zeros", name=name)(
            x
        )

    @staticmethod
    def to_keras(spec, name, params, model):
        layer = model.get_layer(name)
        layer.kernel.assign(params[f"{name}.weights"].T)
        layer.bias.assign(params[f"{name}.bias"].ravel())

    @staticmethod
    def from_keras(spec, name, model):
        layer = model.get_layer(name)
        return {
            f"{name}.weights": layer.kernel.numpy().T,
            f"{name}.bias": layer.bias.numpy()[:, None],
        }


def _adapters(architecture):
    from nengo_softlif.keras import merge_adapters  # noqa: F401, PLC0415

    names = architecture.layer_names()
    for spec, name in zip(architecture.layers, names, strict=True):
        adapter = KERAS_LAYERS.get(type(spec))
        if adapter is None:
            raise TypeError(
                f"Layer {name!r} ({type(spec).__name__}) has no Keras equivalent "
                f"(known: {sorted(t.__name__ for t in KERAS_LAYERS)}); train with "
                "engine='nengo-dl' or register one with register_keras_layer"
            )
        yield spec, name, adapter


def keras_model(net, seed=None):
    """The rate network ``net`` as a ``tf.keras.Model``, with its parameters.

    Parameters
    ----------
    net : `.SoftLIFNetwork`
        A network built by :func:`nengo_softlif.build_network` (rate neurons).
    seed : int, optional
        Seed of the training noise (default: the network's seed), in
        ``[0, nengo_softlif.params.SEED_LIMIT)``.

    Returns
    -------
    tf.keras.Model
        Input: flattened channels-last images (as the network's input node);
        output: the class scores (logits).
    """
    from nengo_softlif.network.checkpoint import get_params  # pylint: disable=C0415

    architecture = net.architecture
    ctx = _Context(net, check_seed(net.seed or 0 if seed is None else seed))
    from nengo_softlif.network.architectures import INPUT  # noqa: PLC0415
    from nengo_softlif.network.merges import is_merge  # noqa: PLC0415

    size = int(np.prod(architecture.input_shape))
    inputs = tf.keras.Input((size,), name="input")
    outputs = {
        INPUT: tf.keras.layers.Reshape(tuple(architecture.input_shape), name="image")(
            inputs
        )
    }
    for (spec, name, adapter), sources in zip(
        _adapters(architecture), architecture.layer_inputs(), strict=True
    ):
        x = [outputs[n] for n in sources]
        outputs[name] = adapter.build(spec, name, x if is_merge(spec) else x[0], ctx)
    model = tf.keras.Model(inputs, outputs[name], name=architecture.name)
    set_keras_params(model, architecture, get_params(net))
    return model


def set_keras_params(model, architecture, params):
    """Assign checkpoint-layout ``params`` to a model from :func:`keras_model`."""
    for spec, name, adapter in _adapters(architecture):
        adapter.to_keras(spec, name, params, model)


def keras_params(model, net):
    """The model's parameters in the layout of `.get_params` for ``net``.

    Fixed parameters that the Keras model does not hold (the pools' weights) are
    the network's own.
    """
    from nengo_softlif.network.checkpoint import get_params  # pylint: disable=C0415

    params = get_params(net)
    for spec, name, adapter in _adapters(net.architecture):
        for key, value in adapter.from_keras(spec, name, model).items():
            params[key] = np.reshape(value, params[key].shape)
    return params


def paper_model(task, sigma=0.02, noise="gaussian:10", seed=0):
    """One of the papers' networks as a tf.keras model (Glorot-initialised).

    Parameters
    ----------
    task : str
        ``"mnist"`` (the 2016 paper's MNIST network) or ``"cifar10"`` (the 2015
        paper's CIFAR-10 network), with that task's neuron preset.
    sigma : float
        Soft LIF smoothing.
    noise : str or `.TrainingNoise` or None
        Training noise of every neuron layer.
    seed : int
        Seed of the initial weights and of the noise.

    Returns
    -------
    tf.keras.Model
        Input: flattened channels-last images; output: class scores. Train it
        with ``model.fit``; `.from_keras` (or ``nengo_dl.Converter``) turns it
        into the nengo network, and `.to_spiking` into its spiking version.
    """
    from nengo_softlif.network.architectures import (
        ARCHITECTURES,
        build_network,
    )  # noqa: PLC0415
    from nengo_softlif.neurons.noise import parse_noise  # noqa: PLC0415
    from nengo_softlif.neurons.softlif import PRESETS  # noqa: PLC0415

    if task not in ARCHITECTURES:
        raise ValueError(
            f"Unknown task {task!r}; choose one of {sorted(ARCHITECTURES)}"
        )
    preset = PRESETS[task]
    noise = parse_noise(noise) if isinstance(noise, str) or noise is None else noise
    net = build_network(
        task, preset.soft_lif(sigma=sigma, noise=noise), preset, seed=seed
    )
    return keras_model(net, seed=seed)
