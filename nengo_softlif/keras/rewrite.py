"""A Keras model as people write it, rewritten into the layers the package reads.

Keras models usually have ``activation="relu"`` inside their weight layers (or
separate ``ReLU`` / ``Activation`` layers) and ``BatchNormalization`` after them.
:func:`rewrite_model` turns such a chain of layers into the one that
:func:`.from_keras` and ``nengo_dl.Converter`` convert: each activation swapped
for one of the package's neuron layers (as ``nengo_dl.Converter``'s
``swap_activations`` swaps activations for neuron types), each batch
normalization folded, with its inference statistics, into the weights and biases
of the layer before it. It says what it changed. Models with residual
``Add`` and ``Concatenate`` merges are rewritten the same way: an activation after
a merge is swapped too, and batch normalization folds into a weight layer whose
output it alone reads.

A ``relu`` swapped for `.RectifiedLinearRates` computes what the model computed;
one swapped for `.SoftLIF` is another network, to be trained or fine-tuned.
"""

import logging
import warnings
from typing import NamedTuple

import numpy as np

from nengo_softlif.keras.graph import MERGES, KerasGraph
from nengo_softlif.keras.layers import (
    LocallyConnected,
    RateNeurons,
    tf,
)

__all__ = ["RewrittenModel", "rewrite_model"]

logger = logging.getLogger(__name__)

#: The layers a batch normalization folds into (their output channels are last).
WEIGHT_LAYERS = (
    tf.keras.layers.Conv2D,
    tf.keras.layers.Dense,
    tf.keras.layers.LocallyConnected2D,
    LocallyConnected,
)

#: Activations that act across units: no neuron computes them.
_ACROSS_UNITS = ("softmax", "log_softmax")

_SWAP_HINT = (
    "pass swap_activations={{{name!r}: RectifiedLinearRates}} (the same outputs) "
    "or swap_activations={{{name!r}: SoftLIF.from_preset('cifar10')}} (LIF "
    "neurons, to be trained) to swap it for the package's neurons (both layers "
    "from nengo_softlif.keras)"
)


class RewrittenModel(NamedTuple):
    """What :func:`rewrite_model` gives.

    Attributes
    ----------
    model : tf.keras.Model
        The rewritten model (the model itself when there was nothing to change).
    changes : tuple of str
        One line per change, e.g. ``"conv2d: relu -> RectifiedLinearRates()"``,
        ``"batch_normalization: folded into conv2d"``.
    """

    model: object
    changes: tuple


def rewrite_model(model, swap_activations=None, fold_batch_norm=True):
    """A chain of Keras layers with activations swapped and batch norm folded.

    The result is the chain that :func:`.from_keras` reads and that
    ``nengo_dl.Converter`` converts to native nengo objects: weight layers
    (``Conv2D``, ``Dense``, ``LocallyConnected2D``, :class:`.LocallyConnected`)
    without activation, each followed by one of the package's neuron layers.
    Every layer is a copy: the given model is left as it is. A model with
    nothing to rewrite is returned itself.

    - An activation inside a weight layer (``Conv2D(32, 3, activation="relu")``),
      or a ``ReLU`` / ``LeakyReLU`` / ``Activation`` layer right after a weight
      layer (or after its batch normalization), becomes the neuron layer that
      ``swap_activations`` gives for it. ``linear`` activations are dropped, and
      so is a ``softmax`` at the very end of the model (the read-out then gives
      the scores before the softmax; the predicted class is the same).
    - A ``BatchNormalization`` right after a weight layer without activation is
      folded, with its inference statistics (moving mean and variance, gamma,
      beta, epsilon), into that layer: the kernel is scaled per output channel,
      the bias becomes ``(bias - mean) * gamma / sqrt(var + eps) + beta``. The
      package's :class:`.LocallyConnected` has no bias of its own: its shift goes
      into the bias of the neuron layer after it (times the neurons' gain).

    Parameters
    ----------
    model : tf.keras.Model
        A chain of layers (each takes the output of the one before), or a
        functional model with ``Add`` / ``Concatenate`` merges (an activation
        right after a merge is swapped as one after a weight layer).
    swap_activations : dict, optional
        What each Keras activation becomes. Keys are activation names
        (``"relu"``) or functions (``tf.nn.relu``, ``tf.keras.activations.relu``);
        values are one of the package's neuron layers (`.SoftLIF`,
        `.RectifiedLinearRates`), used as a template (each swapped activation
        gets a new layer with its settings: constants, initial bias, noise), a
        neuron layer class (made with its defaults), or a function of no
        arguments returning a neuron layer. ``{"relu": RectifiedLinearRates}``
        keeps the model's outputs exactly.
    fold_batch_norm : bool
        Fold ``BatchNormalization`` layers into the layer before them; if False
        they are refused.

    Returns
    -------
    RewrittenModel
        The new model and the list of changes (also logged at INFO level).

    Raises
    ------
    TypeError
        Naming the layer that cannot be rewritten and what to do instead: an
        activation with no entry in ``swap_activations``, one that acts across
        units (``softmax`` before the end), a batch normalization after an
        activation, on another axis than the channels, or not right after a
        weight layer (or read by other layers too), a layer used twice.
    ValueError
        A ``swap_activations`` value that is not a neuron layer.

    Examples
    --------
    nengo-dl's "Keras to SNN" model, with LIF neurons that the package trains:

    >>> inp = tf.keras.Input((28, 28, 1))
    >>> x = tf.keras.layers.Conv2D(32, 3, activation="relu")(inp)
    >>> x = tf.keras.layers.Conv2D(64, 3, strides=2, activation="relu")(x)
    >>> out = tf.keras.layers.Dense(10)(tf.keras.layers.Flatten()(x))
    >>> rewritten = rewrite_model(
    ...     tf.keras.Model(inp, out),
    ...     swap_activations={"relu": SoftLIF.from_preset("mnist")},
    ... )
    >>> rewritten.changes[0]
    'conv2d: relu -> SoftLIF(amplitude=0.063, bias=1.0, tau_rc=0.022)'

    ``rewritten.model`` is what :func:`.from_keras` reads (it calls this function
    itself) and what ``nengo_dl.Converter(rewritten.model)`` converts to native
    nengo objects.
    """
    graph = KerasGraph(model)
    swaps = _Swaps(swap_activations)
    if not any(_needs_rewrite(layer) for layer in graph.layers):
        swaps.warn_unused()
        return RewrittenModel(model, ())
    writer = _Writer(model, graph, swaps, fold_batch_norm)
    for layer in graph.layers:
        if layer.name not in writer.tensors:
            writer.write(layer)
    swaps.warn_unused()
    for change in writer.changes:
        logger.info("%s: %s", model.name, change)
    output = writer.tensors[graph.output_layer.name]
    new = tf.keras.Model(writer.inputs, output, name=model.name)
    return RewrittenModel(new, tuple(writer.changes))


def _activation_name(activation):
    """The name of a Keras activation (a name, a function or None)."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return tf.keras.activations.get(activation).__name__
    return getattr(activation, "__name__", repr(activation))


def _layer_activation(layer):
    """The activation name of an activation layer (None for other layers)."""
    if isinstance(layer, tf.keras.layers.Activation):
        return _activation_name(layer.activation)
    if isinstance(layer, tf.keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, tf.keras.layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, tf.keras.layers.ReLU):
        plain = (
            layer.max_value is None
            and float(layer.negative_slope) == 0
            and float(layer.threshold) == 0
        )
        if not plain:
            raise TypeError(
                f"Keras layer {layer.name!r} (ReLU) has a max_value, negative_slope "
                "or threshold: no neuron layer of the package computes it; use "
                "ReLU() without arguments (or a nengo_softlif.keras.SoftLIF layer)"
            )
        return "relu"
    return None


def _weight_activation(layer):
    """The activation name inside a weight layer ('linear' if it has none)."""
    return _activation_name(getattr(layer, "activation", None))


def _needs_rewrite(layer):
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        return True
    if _layer_activation(layer) is not None:
        return True
    return type(layer) in WEIGHT_LAYERS and _weight_activation(layer) != "linear"


class _Swaps:
    """``swap_activations`` by activation name, remembering which were used."""

    def __init__(self, swap_activations):
        self.swaps = {}
        for key, value in (swap_activations or {}).items():
            try:
                name = _activation_name(key)
            except ValueError:
                raise ValueError(
                    f"swap_activations has key {key!r}, which is not a Keras "
                    "activation; use names such as 'relu' or functions such as "
                    "tf.nn.relu"
                ) from None
            if not (
                isinstance(value, RateNeurons)
                or (isinstance(value, type) and issubclass(value, RateNeurons))
                or (callable(value) and not isinstance(value, type))
            ):
                raise ValueError(
                    f"swap_activations[{key!r}] is {value!r}: give a neuron layer "
                    "of nengo_softlif.keras (SoftLIF, RectifiedLinearRates), its "
                    "class, or a function of no arguments returning one"
                    + (
                        " (nengo neuron types are for nengo_dl.Converter's own "
                        "swap_activations)"
                        if hasattr(value, "rates")
                        else ""
                    )
                )
            self.swaps[name] = value
        self.used = set()

    def neurons(self, layer, activation, name):
        """A new neuron layer called ``name`` for ``activation`` of ``layer``."""
        where = f"Keras layer {layer.name!r} ({type(layer).__name__})"
        if activation in _ACROSS_UNITS:
            raise TypeError(
                f"{where} has activation {activation!r}, which acts across units: no "
                "neurons compute it; only at the very end of the model is it "
                "dropped (the read-out gives the scores before it), so remove it "
                "or move it to the end"
            )
        if activation not in self.swaps:
            raise TypeError(
                f"{where} has activation {activation!r}, which the package's "
                "networks do not have; " + _SWAP_HINT.format(name=activation)
            )
        self.used.add(activation)
        value = self.swaps[activation]
        template = value if isinstance(value, RateNeurons) else value()
        if not isinstance(template, RateNeurons):
            raise ValueError(
                f"swap_activations[{activation!r}] returned {template!r}, not a "
                "neuron layer of nengo_softlif.keras (SoftLIF, RectifiedLinearRates)"
            )
        return type(template).from_config({**template.get_config(), "name": name})

    def warn_unused(self):
        unused = sorted(set(self.swaps) - self.used)
        if unused:
            warnings.warn(
                f"swap_activations contained {unused}, but no layer of the model "
                "has that activation",
                stacklevel=3,
            )


def _describe(layer):
    """A short description of a neuron layer: class and settings.

    Parameters
    ----------
    layer : `.RateNeurons`

    Returns
    -------
    str
        e.g. ``"SoftLIF(sigma=0.02, tau_rc=0.02, ..., noise='gaussian:10')"``.
    """
    config = layer.get_config()
    skip = {"name", "trainable", "dtype", "seed"}
    try:
        defaults = type(layer)().get_config()
    except TypeError:  # a neuron layer with required arguments: show them all
        defaults = {}
    items = [
        f"{key}={value!r}"
        for key, value in config.items()
        if key not in skip and value != defaults.get(key)
    ]
    return f"{type(layer).__name__}({', '.join(items)})"


def _copy(layer, **changes):
    """A new, unbuilt layer like ``layer`` (config with ``changes``)."""
    return type(layer).from_config({**layer.get_config(), **changes})


def _assign(var, value):
    var.assign(np.asarray(value).astype(var.dtype.as_numpy_dtype))


def _copy_weights(source, target):
    """Copy the weights of ``source`` into ``target`` by name."""
    values = {v.name.split("/")[-1]: v.numpy() for v in source.weights}
    for var in target.weights:
        key = var.name.split("/")[-1]
        if key in values:
            _assign(var, values[key])


def _batch_norm_affine(bn, layer):
    """Per-channel ``(scale, shift)`` of a batch normalization in inference."""
    rank = len(bn.input_shape)
    if list(bn.axis) != [rank - 1]:
        raise TypeError(
            f"Keras layer {bn.name!r} (BatchNormalization) normalises axis "
            f"{list(bn.axis)}, not the channels (axis {rank - 1}, the last): it "
            f"cannot fold into {layer.name!r}, whose weights have one scale per "
            "output channel; use BatchNormalization(axis=-1) with channels-last data"
        )
    var = bn.moving_variance.numpy().astype(np.float64)
    scale = 1.0 / np.sqrt(var + bn.epsilon)
    if bn.scale:
        scale = scale * bn.gamma.numpy()
    shift = -bn.moving_mean.numpy() * scale
    if bn.center:
        shift = shift + bn.beta.numpy()
    return scale, shift


class _Writer:
    """Writes the rewritten layers on new Keras tensors, in the model's order.

    ``tensors`` maps the name of every layer written (or folded, or dropped) to
    the new tensor that stands for its output.
    """

    def __init__(self, model, graph, swaps, fold):
        self.graph, self.swaps, self.fold = graph, swaps, fold
        shape = tuple(model.input_shape[1:])
        self.inputs = tf.keras.Input(shape)
        self.tensors = {graph.input_layer.name: self.inputs}
        self.changes = []
        self.names = {layer.name for layer in graph.layers}

    def _name(self, base):
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def _input(self, layer):
        """The new tensor(s) ``layer`` reads."""
        inbound = [self.tensors[source.name] for source in self.graph.inbound(layer)]
        return inbound[0] if len(inbound) == 1 else inbound

    def _done(self, layers, x):
        """``layers`` are written: ``x`` stands for the output of each."""
        for layer in layers:
            self.tensors[layer.name] = x

    def write(self, layer):
        """Write ``layer`` (and the batch norm and activation that go with it)."""
        if type(layer) in WEIGHT_LAYERS:
            self._weight_layer(layer)
            return
        before = self.graph.before(layer)
        before_name = "the input" if before is None else self.graph.name_of(before)
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            self._refuse_batch_norm(layer, before, before_name)
        if isinstance(layer, RateNeurons) and self._after_activation(before):
            raise TypeError(
                f"Keras layer {layer.name!r} ({type(layer).__name__}) follows "
                f"{before_name!r}: neurons go right after a Conv2D, Dense or "
                "locally-connected layer without activation (or its "
                "BatchNormalization); remove the activation before it"
            )
        activation = _layer_activation(layer)
        if activation is None:
            new = _copy(layer)
            self._done([layer], new(self._input(layer)))
            _copy_weights(layer, new)
            return
        if activation == "linear" or self._ends(activation, layer):
            self._done([layer], self._input(layer))
            return
        if isinstance(before, MERGES):
            neurons = self.swaps.neurons(layer, activation, layer.name)
            self.changes.append(f"{layer.name}: {activation} -> {_describe(neurons)}")
            self._write_neurons(neurons, None, None, [layer], self._input(layer))
            return
        raise TypeError(
            f"Keras layer {layer.name!r} ({type(layer).__name__}, {activation}) "
            f"follows {before_name!r}: neurons go right after a Conv2D, Dense or "
            "locally-connected layer (or its BatchNormalization), or after an Add "
            "or Concatenate; move it there"
        )

    def _refuse_batch_norm(self, bn, before, before_name):
        if type(before) in WEIGHT_LAYERS:
            others = [r.name for r in self.graph.readers(before) if r is not bn]
            raise TypeError(
                f"Keras layer {bn.name!r} (BatchNormalization) normalises "
                f"{before_name!r}, whose output {others} read too: it folds only "
                "into a layer whose output it alone reads; apply the batch "
                "normalization before the branches split"
            )
        raise TypeError(
            f"Keras layer {bn.name!r} (BatchNormalization) follows {before_name!r}: "
            "it folds only into a Conv2D, Dense or locally-connected layer "
            "right before it; move it there (before the activation)"
        )

    def _after_activation(self, before):
        """Whether the layer ``before`` has an activation or is one."""
        return (
            type(before) in WEIGHT_LAYERS
            or isinstance(before, RateNeurons)
            or (
                before is not None
                and not self.graph.is_input(before)
                and _layer_activation(before) is not None
            )
        )

    def _ends(self, activation, last):
        """Drop a softmax at the very end (``last``: the model's output layer)."""
        if activation != "softmax" or last is not self.graph.output_layer:
            return False
        self.changes.append(
            f"{last.name}: softmax dropped (the read-out gives the scores before "
            "it; the predicted class is the same)"
        )
        return True

    def _weight_layer(self, layer):
        activation = _weight_activation(layer)
        group = [layer]
        bn = self.graph.sole_reader(layer)
        if not isinstance(bn, tf.keras.layers.BatchNormalization):
            bn = None
        elif activation != "linear":
            raise TypeError(
                f"Keras layer {bn.name!r} (BatchNormalization) normalises the "
                f"{activation} output of {layer.name!r}: it can fold only into a "
                "layer without activation; write the layer without activation, "
                "then BatchNormalization, then the activation (e.g. "
                f"{type(layer).__name__}(..., activation=None), "
                "BatchNormalization(), ReLU())"
            )
        elif not self.fold:
            raise TypeError(
                f"Keras layer {bn.name!r} (BatchNormalization) is not folded: pass "
                "fold_batch_norm=True to fold its inference statistics into "
                f"{layer.name!r}"
            )
        else:
            group.append(bn)
        shift = self._write_weights(layer, bn, group)
        if activation != "linear":
            if self._ends(activation, group[-1]):
                return
            neurons = self.swaps.neurons(
                layer, activation, self._name(f"{layer.name}_{activation}")
            )
            self.changes.append(f"{layer.name}: {activation} -> {_describe(neurons)}")
            self._write_neurons(neurons, None, shift, group, self.tensors[layer.name])
            return
        nxt = self.graph.sole_reader(group[-1])
        activation = None if nxt is None else _layer_activation(nxt)
        if isinstance(nxt, RateNeurons):
            x = self.tensors[layer.name]
            self._write_neurons(_copy(nxt), nxt, shift, [*group, nxt], x)
            return
        if activation is None or activation == "linear":
            self._need_no_shift(shift, layer)
            if activation == "linear":
                self._done([nxt], self.tensors[group[-1].name])
            return
        if self._ends(activation, nxt):
            self._done([nxt], self.tensors[group[-1].name])
            return
        neurons = self.swaps.neurons(nxt, activation, nxt.name)
        self.changes.append(f"{nxt.name}: {activation} -> {_describe(neurons)}")
        x = self.tensors[layer.name]
        self._write_neurons(neurons, None, shift, [*group, nxt], x)

    def _write_weights(self, layer, bn, group):
        """Write a copy of the weight layer with ``bn`` folded in (for ``group``).

        Returns the shift per channel left for the neurons' bias (the package's
        LocallyConnected has no bias), or None.
        """
        changes = {}
        if "activation" in layer.get_config():
            changes["activation"] = "linear"
        if bn is not None and "use_bias" in layer.get_config():
            changes["use_bias"] = True
        new = _copy(layer, **changes)
        self._done(group, new(self._input(layer)))
        _copy_weights(layer, new)
        if bn is None:
            return None
        self.changes.append(f"{bn.name}: folded into {layer.name}")
        scale, shift = _batch_norm_affine(bn, layer)
        _assign(new.kernel, new.kernel.numpy() * scale)
        if not hasattr(new, "bias"):
            return shift
        bias = new.bias.numpy() if layer.use_bias else np.zeros(new.bias.shape)
        _assign(new.bias, bias * scale + shift)
        return None

    def _write_neurons(self, neurons, source, shift, group, x):
        """Write a neuron layer on ``x``, standing for the output of the layers
        in ``group`` (weights from ``source``; ``shift`` in its bias)."""
        if shift is not None and neurons.bias_init is None:
            neurons = _copy(neurons, bias=0.0)
        self._done(group, neurons(x))
        if source is not None:
            _copy_weights(source, neurons)
        if shift is not None:
            _assign(neurons.bias, neurons.bias.numpy() + neurons.gain * shift)

    def _need_no_shift(self, shift, layer):
        if shift is not None:
            raise TypeError(
                f"Keras layer {layer.name!r} (LocallyConnected) has no bias and no "
                "neuron layer after it to hold its batch normalization's shift; "
                "put a neuron layer (or an activation to swap) right after the "
                "BatchNormalization"
            )
