"""``nengo_dl.Converter`` support for the package's layers and for locally-connected layers.

Registered with ``nengo_dl.Converter.register`` when ``nengo_dl`` is first imported
with nengo_softlif (see :mod:`nengo_softlif.import_hooks`), so a tf.keras model made of
``Conv2D``, ``AveragePooling2D``, ``LocallyConnected2D``, ``Dense``, ``Flatten``,
``Dropout`` and :class:`.SoftLIF` layers converts to native nengo objects, with no
``TensorNode``:

- :class:`.SoftLIF` (and `.RectifiedLinearRates`) become ensembles of
  `.SoftLIFRate` (`nengo_softlif.RectifiedLinear`) neurons with the layer's gain,
  per-neuron bias, amplitude and training noise, so ``sim.fit`` trains the
  converted network as Keras trained the model (noise in training only).
- ``tf.keras.layers.LocallyConnected2D`` (``implementation`` 1 or 2, channels
  last, no padding) and the package's :class:`.LocallyConnected` (with zero
  padding) become connections with a trainable `.LocallyConnectedSparse`
  transform, which nengo-dl applies as image patches times per-pixel filters.

A layer that has no converter still falls back to a ``TensorNode`` if the
converter allows it; :func:`check_convertible` says which layers would, and what
to use instead. A model with ``BatchNormalization``, or with activations that
should become the package's neurons, converts after :func:`.rewrite_model`.
"""

import warnings

import nengo
import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.keras.layers import (
    LocallyConnected,
    RectifiedLinearRates,
    SoftLIF,
    tf,
)
from nengo_softlif.keras.network import check_model
from nengo_softlif.neurons.softlif import RectifiedLinear
from nengo_softlif.transforms.sparse import AveragePoolSparse, LocallyConnectedSparse

nengo_dl = import_nengo_dl()
from nengo_dl.converter import (  # noqa: E402
    ConvertAvgPool2D,
    Converter,
    LayerConverter,
)

__all__ = [
    "ConvertSoftLIF",
    "ConvertRectifiedLinearRates",
    "ConvertLocallyConnected",
    "ConvertKerasLocallyConnected2D",
    "ConvertDropout",
    "ConvertAvgPool2DSame",
    "check_convertible",
]

#: What to use instead of layers that cannot run as spikes or have no converter.
ALTERNATIVES = {
    "MaxPooling2D": "AveragePooling2D (max pooling has no spiking equivalent)",
    "BatchNormalization": "nengo_softlif.keras.rewrite_model(model) first, which folds "
    "it into the layer before it (from_keras does this itself)",
    "ReLU": "nengo_softlif.keras.SoftLIF (or an activation nengo-dl converts)",
}

#: What to do with an activation that has no native Nengo equivalent.
SWAP_HINT = (
    "nengo_softlif.keras.rewrite_model(model, swap_activations={...}) first, which "
    "swaps it for the package's neurons"
)


class _NeuronConverter(LayerConverter):
    """A rate-neuron layer: one ensemble, input straight into its neurons."""

    neuron_class = None

    def neuron_type(self):
        """The nengo neuron type of the layer."""
        raise NotImplementedError

    def convert(self, node_id):
        layer = self.layer
        n = int(np.prod(self.output_shape(node_id)))
        bias = (
            np.zeros(n)
            if layer.bias is None
            else layer.bias.numpy().ravel().astype(float)
        )
        ens = nengo.Ensemble(
            n,
            1,
            neuron_type=self.neuron_type(),
            gain=np.full(n, layer.gain),
            bias=bias,
            label=f"{layer.name}.{node_id}",
        )
        if layer.bias is None:
            self.set_trainable(ens, False)
        conn = self.add_connection(node_id, ens.neurons)
        self.set_trainable(conn, False)
        return ens.neurons


@Converter.register(SoftLIF)
class ConvertSoftLIF(_NeuronConverter):
    """`.SoftLIF` -> ensemble of `.SoftLIFRate` (same sigma, noise, gain, bias)."""

    def neuron_type(self):
        return self.layer.nengo_neuron_type(noise=self.layer.noise)


@Converter.register(RectifiedLinearRates)
class ConvertRectifiedLinearRates(_NeuronConverter):
    """`.RectifiedLinearRates` -> ensemble of `nengo_softlif.RectifiedLinear`."""

    def neuron_type(self):
        return RectifiedLinear(amplitude=self.layer.amplitude, noise=self.layer.noise)


def _dense_kernel(transform, values):
    """Per-pixel filters ``(pixels, k*k*c, filters)`` -> the transform's values."""
    return np.asarray(values).ravel()[transform.dense_positions()]


class _LocalConverter(LayerConverter):
    has_weights = True

    def _transform(self, node_id, padding):
        layer = self.layer
        stride = layer.strides[0] if hasattr(layer, "strides") else layer.stride
        kernel = (
            layer.kernel_size[0] if hasattr(layer, "strides") else layer.kernel_size
        )
        return LocallyConnectedSparse(
            tuple(self.input_shape(node_id)),
            layer.filters,
            kernel,
            stride=stride,
            padding=padding,
        )

    def _connect(self, node_id, transform, values, biases=None, activation=None):
        output = self.add_nengo_obj(node_id, biases=biases, activation=activation)
        self.add_connection(
            node_id,
            output,
            transform=transform.with_weights(_dense_kernel(transform, values)),
            trainable=True,
        )
        return output


@Converter.register(LocallyConnected)
class ConvertLocallyConnected(_LocalConverter):
    """The package's `.LocallyConnected` -> a `.LocallyConnectedSparse` connection."""

    def convert(self, node_id):
        transform = self._transform(node_id, self.layer.padding)
        return self._connect(node_id, transform, self.layer.kernel.numpy())


@Converter.register(tf.keras.layers.LocallyConnected2D)
class ConvertKerasLocallyConnected2D(_LocalConverter):
    """``tf.keras.layers.LocallyConnected2D`` -> a `.LocallyConnectedSparse` connection.

    Kernels of ``implementation=1`` are per-pixel filter banks already; those of
    ``implementation=2`` (a masked dense matrix) are read at the window positions.
    """

    unsupported_args = [("data_format", "channels_last"), ("padding", "valid")]

    @classmethod
    def convertible(cls, layer, converter):
        if layer.implementation not in (1, 2):
            return False, (
                f"{layer.name}: LocallyConnected2D implementation="
                f"{layer.implementation} is not supported (use 1 or 2)"
            )
        if (
            layer.strides[0] != layer.strides[1]
            or layer.kernel_size[0] != layer.kernel_size[1]
        ):
            return False, f"{layer.name}: only square kernels and strides are supported"
        return super().convertible(layer, converter)

    def convert(self, node_id):
        layer = self.layer
        transform = self._transform(node_id, 0)
        kernel = layer.kernel.numpy()
        if layer.implementation == 2:
            kernel = self.per_pixel(kernel, transform)
        biases = layer.bias.numpy().ravel() if layer.use_bias else None
        return self._connect(
            node_id, transform, kernel, biases=biases, activation=layer.activation
        )

    @staticmethod
    def per_pixel(kernel, transform):
        """Implementation 2's (in_h, in_w, c, out_h, out_w, f) kernel, per pixel."""
        h, w, c = transform.input_shape
        out_h, out_w, f = transform.output_shape
        k, s = transform.kernel, transform.stride
        dense = np.zeros((out_h * out_w, k, k, c, f), dtype=kernel.dtype)
        for oi in range(out_h):
            for oj in range(out_w):
                block = kernel[oi * s : oi * s + k, oj * s : oj * s + k, :, oi, oj, :]
                dense[oi * out_w + oj] = block
        return dense


class ConvertAvgPool2DSame(ConvertAvgPool2D):
    """``AveragePooling2D`` with ``padding="same"`` too, as an `.AveragePoolSparse`.

    nengo-dl converts only 'valid' pooling (TensorFlow's 'same' average leaves the
    padding out of the count, which a convolution cannot do); the package's
    windowed transform averages exactly the pixels inside each window, which is
    what 'same' pooling does, and nengo-dl applies it with ``tf.nn.avg_pool2d``.
    'valid' layers are converted as nengo-dl does.
    """

    unsupported_args = []

    @classmethod
    def convertible(cls, layer, converter):
        if getattr(layer, "padding", "valid") == "same" and not isinstance(
            layer, tf.keras.layers.AveragePooling2D
        ):
            return (
                False,
                f"{layer.name}: 'same' padding is supported for average pooling only",
            )
        return super().convertible(layer, converter)

    def convert(self, node_id):
        layer = self.layer
        if getattr(layer, "padding", "valid") != "same":
            return super().convert(node_id)
        if (
            layer.data_format != "channels_last"
            or layer.pool_size[0] != layer.pool_size[1]
            or layer.strides[0] != layer.strides[1]
        ):
            raise TypeError(
                f"{layer.name}: 'same' average pooling converts with square windows "
                "and strides, channels last"
            )
        transform = AveragePoolSparse(
            tuple(self.input_shape(node_id)), layer.pool_size[0], layer.strides[0]
        )
        if not transform.same_padding:
            raise TypeError(
                f"{layer.name}: these windows ({layer.pool_size[0]}, stride "
                f"{layer.strides[0]}) do not start at the first pixel under 'same' "
                "padding; use padding='valid' or other strides"
            )
        output = self.add_nengo_obj(node_id)
        self.add_connection(node_id, output, transform=transform)
        return output


with (
    warnings.catch_warnings()
):  # replaces nengo-dl's converter, of which it is a superset
    warnings.filterwarnings("ignore", message="Layer .* already has a converter")
    Converter.register(tf.keras.layers.AveragePooling2D)(ConvertAvgPool2DSame)


@Converter.register(tf.keras.layers.Dropout)
class ConvertDropout(LayerConverter):
    """``Dropout`` -> identity (what it is outside training).

    nengo-dl trains the converted network without it; to keep dropout when
    training in nengo-dl, give it to the neurons before it instead (a
    :class:`.SoftLIF` with ``noise="gaussian:10+dropout:0.5"`` converts with its
    dropout).
    """

    def convert(self, node_id):
        output = self.add_nengo_obj(node_id)
        self.add_connection(node_id, output)
        return output


def check_convertible(model, converter_options=None):
    """The layers of ``model`` that nengo-dl would not convert natively.

    Parameters
    ----------
    model : tf.keras.Model
    converter_options : dict, optional
        Arguments of ``nengo_dl.Converter`` (e.g. ``inference_only``).

    Returns
    -------
    list of str
        One message per layer: its name, class, the reason, and what to use
        instead where known. Empty if everything converts.

    Raises
    ------
    TypeError
        If ``model`` is not a built tf.keras model.
    """
    check_model(model, one_input=False)
    options = dict(converter_options or {})
    options.setdefault("allow_fallback", False)
    fake = type(
        "_Options",
        (),
        {
            "inference_only": options.get("inference_only", False),
            "max_to_avg_pool": options.get("max_to_avg_pool", False),
        },
    )
    problems = []
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.InputLayer):
            continue
        cls = Converter.converters.get(type(layer))
        kind = type(layer).__name__
        hint = ALTERNATIVES.get(kind)
        if cls is None:
            reason = "no converter"
        else:
            ok, reason = cls.convertible(layer, fake)
            if ok:
                activation = getattr(layer, "activation", None)
                if activation is None or activation in LayerConverter.activation_map:
                    continue
                reason = f"activation {activation} has no native Nengo equivalent"
                hint = SWAP_HINT
        problems.append(
            f"{layer.name} ({kind}): {reason}" + (f"; use {hint}" if hint else "")
        )
    return problems
