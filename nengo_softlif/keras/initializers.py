"""Initial weights for Keras models with SoftLIF layers: :func:`scale_initial_weights`.

Keras' default initialisers are made for ReLU, whose output is about as large as
its input. A LIF neuron is steep just above its threshold: a neuron of the
``mnist`` preset (bias 1, so at its threshold) given an input of 0.1 fires at 18 Hz,
an output of 1.15 after the amplitude of 0.063, where a ReLU gives 0.1. The
layers after SoftLIF layers then start with inputs tens of times larger than
with ReLU, and the read-out with large, random class scores, which costs the
first epoch. Scaling those layers' initial weights down (and starting the
read-out at zero, as the package's own networks do) removes that cost.
"""

from nengo_softlif.keras.layers import SoftLIF, tf

__all__ = ["scale_initial_weights"]

#: Layers whose ``kernel`` is scaled (anything with a ``kernel`` weight).
_KERNEL = "kernel"


def _inbound_layers(layer):
    layers = []
    for node in layer._inbound_nodes:  # noqa: SLF001  (Keras' graph, read only)
        inbound = node.inbound_layers
        layers.extend(inbound if isinstance(inbound, list) else [inbound])
    return layers


def _has_kernel(layer):
    return getattr(layer, _KERNEL, None) is not None


def _after_softlif(layer):
    """Whether ``layer``'s input comes from a SoftLIF layer (through weightless layers)."""
    stack, seen = list(_inbound_layers(layer)), set()
    while stack:
        source = stack.pop()
        if id(source) in seen:
            continue
        seen.add(id(source))
        if isinstance(source, SoftLIF):
            return True
        if not _has_kernel(source):
            stack.extend(_inbound_layers(source))
    return False


def _readouts(model):
    """Weight layers that give the model's outputs (through weightless layers)."""
    found, seen = [], set()
    stack = [tensor._keras_history.layer for tensor in model.outputs]  # noqa: SLF001
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if _has_kernel(layer):
            found.append(layer)
        elif not isinstance(layer, SoftLIF):
            stack.extend(_inbound_layers(layer))
    return found


def scale_initial_weights(model, hidden=0.3, readout=0.0):
    """Scale the initial weights of the layers after `.SoftLIF` layers.

    Call it on a freshly built (or freshly rewritten) model, before ``fit``: it
    multiplies the weights that are there. Every layer with a ``kernel``
    (``Conv2D``, ``Dense``, locally-connected layers) whose input comes from a
    ``SoftLIF`` layer, directly or through layers without weights (pooling,
    ``Flatten``, ``Dropout``, padding), gets its kernel multiplied by ``hidden``;
    such a layer that gives the model's output (the read-out) by ``readout``
    (0: it starts at zero, as the package's own networks' read-out does).
    Layers that take the model's input are left as they are: their input is
    the data, as with ReLU. Biases are left as they are.

    Parameters
    ----------
    model : tf.keras.Model
        A model with `.SoftLIF` layers (a chain or a graph).
    hidden : float
        Scale of the kernels of hidden layers after SoftLIF layers.
    readout : float
        Scale of the kernels of read-out layers after SoftLIF layers.

    Returns
    -------
    list of str
        What was scaled, one line per layer (``"dense: kernel x 0"``).

    Raises
    ------
    ValueError
        If a scale is negative or not finite, or the model has no SoftLIF layer.

    Examples
    --------
    >>> model = rewrite_model(
    ...     relu_model, swap_activations={"relu": SoftLIF.from_preset("mnist")}
    ... ).model
    >>> scale_initial_weights(model)
    ['conv2d_1: kernel x 0.3', 'dense: kernel x 0']
    """
    import numpy as np  # noqa: PLC0415

    for name, value in (("hidden", hidden), ("readout", readout)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(
                f"scale_initial_weights: {name} must be a finite number >= 0, "
                f"got {value!r}"
            )
    if not any(isinstance(layer, SoftLIF) for layer in model.layers):
        raise ValueError(
            f"scale_initial_weights: model {model.name!r} has no SoftLIF layer; "
            "swap its activations first (rewrite_model(model, swap_activations="
            '{"relu": SoftLIF.from_preset(...)}).model)'
        )
    readouts = {id(layer) for layer in _readouts(model)}
    changes = []
    for layer in model.layers:
        if not _has_kernel(layer) or not _after_softlif(layer):
            continue
        scale = readout if id(layer) in readouts else hidden
        kernel = getattr(layer, _KERNEL)
        kernel.assign(kernel * tf.cast(scale, kernel.dtype))
        changes.append(f"{layer.name}: kernel x {scale:g}")
    return changes
