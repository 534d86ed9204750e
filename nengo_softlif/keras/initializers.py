"""Initial weights for Keras models with SoftLIF layers: :func:`scale_initial_weights`.

Keras' default initialisers are made for ReLU, which is the same function at any
scale of its input. A LIF neuron is not: its preset's bias puts it at its
threshold, and only inputs of the order of 1 spread the neurons over their
working range.

- The layers that see the data: with Keras' default initialisers and data of
  the usual scale (pixels in [0, 1], or with the mean image subtracted) their
  outputs have a spread of about 0.1, so every neuron of the first SoftLIF
  layer starts within 0.1 of its threshold, where it fires at a few Hz or not
  at all. The network then learns slowly, and its spiking version conveys
  little in a presentation of a few hundred ms. A gain of 8 times the preset's
  in those neurons spreads them over their first tens of Hz. The gain rather
  than the kernel: Adam's steps change each weight by about the learning rate
  whatever the weights' scale, so with the kernel as Keras initialised it they
  change the neurons' currents as much, relative to their spread, as they
  change a ReLU's inputs; a kernel 8 times larger would learn 8 times more
  slowly.
- The layers after SoftLIF layers: a LIF neuron is steep just above its
  threshold: a neuron of the ``mnist`` preset (bias 1, so at its threshold)
  given an input of 0.1 fires at 18 Hz, an output of 1.15 after the amplitude
  of 0.063, where a ReLU gives 0.1. The layers after SoftLIF layers then start
  with inputs tens of times larger than with ReLU, and the read-out with large,
  random class scores, which costs the first epoch. Scaling those layers'
  initial weights down (and starting the read-out at zero, as the package's own
  networks do) removes that cost.
"""

from nengo_softlif.keras.graph import KerasGraph
from nengo_softlif.keras.layers import SoftLIF, tf

__all__ = ["scale_initial_weights"]

#: Layers whose ``kernel`` is scaled (anything with a ``kernel`` weight).
_KERNEL = "kernel"


def _has_kernel(layer):
    return getattr(layer, _KERNEL, None) is not None


def _input_from(graph, layer, kind):
    """Whether ``layer``'s input comes from a ``kind`` layer (through weightless layers)."""
    stack, seen = list(graph.inbound(layer)), set()
    while stack:
        source = stack.pop()
        if id(source) in seen:
            continue
        seen.add(id(source))
        if isinstance(source, kind):
            return True
        if graph.is_input(source):
            continue
        if not _has_kernel(source) and not isinstance(source, SoftLIF):
            stack.extend(graph.inbound(source))
    return False


def _readouts(graph):
    """Weight layers that give the model's output (through weightless layers)."""
    found, seen = [], set()
    stack = [graph.output_layer]
    while stack:
        layer = stack.pop()
        if id(layer) in seen or graph.is_input(layer):
            continue
        seen.add(id(layer))
        if _has_kernel(layer):
            found.append(layer)
        elif not isinstance(layer, SoftLIF):
            stack.extend(graph.inbound(layer))
    return found


def _check_scales(model, hidden, readout, first):
    """Refuse scales `scale_initial_weights` cannot use, and models without SoftLIF."""
    import numpy as np  # noqa: PLC0415

    for name, value in (("hidden", hidden), ("readout", readout)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(
                f"scale_initial_weights: {name} must be a finite number >= 0, "
                f"got {value!r}"
            )
    if not (np.isfinite(first) and first > 0):
        raise ValueError(
            f"scale_initial_weights: first must be a finite number > 0 (1 keeps "
            f"the preset's gain), got {first!r}; a gain of 0 silences the neurons"
        )
    if not any(isinstance(layer, SoftLIF) for layer in model.layers):
        raise ValueError(
            f"scale_initial_weights: model {model.name!r} has no SoftLIF layer; "
            "swap its activations first (rewrite_model(model, swap_activations="
            '{"relu": SoftLIF.from_preset(...)}).model)'
        )


def scale_initial_weights(model, hidden=0.3, readout=0.0, first=8.0):
    """Scale the initial weights of a model with `.SoftLIF` layers to suit them.

    Call it on a freshly built (or freshly rewritten) model, before ``fit``: it
    multiplies the weights that are there. Every layer with a ``kernel``
    (``Conv2D``, ``Dense``, locally-connected layers) whose input comes from a
    ``SoftLIF`` layer, directly or through layers without weights (pooling,
    ``Flatten``, ``Dropout``, padding), gets its kernel multiplied by ``hidden``;
    such a layer that gives the model's output (the read-out) by ``readout``
    (0: it starts at zero, as the package's own networks' read-out does).
    The SoftLIF layers right after the layers that see the data (the model's
    input, directly or through layers without weights) get their ``gain``
    multiplied by ``first``, so that they start spread over their working range
    rather than within 0.1 of their threshold, and learn as fast as ReLU
    layers; the default suits data of the usual scale (pixels in [0, 1], or
    with the mean image subtracted). A layer that sees the data and is not
    followed by SoftLIF layers alone gets its kernel multiplied instead.
    Biases are left as they are. :func:`.from_keras` folds a gain that differs
    from the other layers' into the weights before it.

    Parameters
    ----------
    model : tf.keras.Model
        A model with `.SoftLIF` layers (a chain or a graph).
    hidden : float
        Scale of the kernels of hidden layers after SoftLIF layers.
    readout : float
        Scale of the kernels of read-out layers after SoftLIF layers.
    first : float
        Scale (> 0) of the gain of the SoftLIF layers after the layers that see
        the data (1: the preset's).

    Returns
    -------
    list of str
        What was scaled, one line per layer (``"dense: kernel x 0"``,
        ``"conv2d_relu: gain x 8"``).

    Raises
    ------
    ValueError
        If a scale is negative or not finite, ``first`` is 0, or the model has
        no SoftLIF layer.
    TypeError
        If a layer is used more than once (a shared layer).

    Notes
    -----
    The gain is a setting of the SoftLIF layer, not a weight: ``model.save``
    and ``get_config`` keep it, ``save_weights`` does not. To restore weights
    saved with ``save_weights`` (or ``ModelCheckpoint(save_weights_only=True)``),
    call ``scale_initial_weights`` on the rebuilt model before ``load_weights``
    (it then multiplies the gain again, and ``load_weights`` replaces the
    kernels). A model that was already run (``fit``, ``predict``) uses the new
    gain after its next ``compile``.

    Examples
    --------
    >>> model = rewrite_model(
    ...     relu_model, swap_activations={"relu": SoftLIF.from_preset("mnist")}
    ... ).model
    >>> scale_initial_weights(model)
    ['conv2d_relu: gain x 8', 'conv2d_1: kernel x 0.3', 'dense: kernel x 0']
    """
    _check_scales(model, hidden, readout, first)
    graph = KerasGraph(model)  # refuses shared layers, naming them
    readouts = {id(layer) for layer in _readouts(graph)}
    changes = []
    for layer in graph.layers:
        if not _has_kernel(layer):
            continue
        if _input_from(graph, layer, SoftLIF):
            scale = readout if id(layer) in readouts else hidden
        elif _input_from(graph, layer, tf.keras.layers.InputLayer) and first != 1:
            neurons = graph.readers(layer)
            if neurons and all(isinstance(n, SoftLIF) for n in neurons):
                for n in neurons:
                    n.gain = n.gain * float(first)
                    changes.append(f"{n.name}: gain x {first:g}")
                continue
            scale = first
        else:
            continue
        kernel = getattr(layer, _KERNEL)
        kernel.assign(kernel * tf.cast(scale, kernel.dtype))
        changes.append(f"{layer.name}: kernel x {scale:g}")
    return changes
