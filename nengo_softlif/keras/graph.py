"""Which layer of a tf.keras model reads which: the model as a graph of layers.

Both :func:`.rewrite_model` and :func:`.from_keras` walk a model in this form:
the layers in an order in which every layer comes after the layers it reads
(``model.layers`` of a functional model), each layer's inputs, and the layers
that read its output. A chain (a ``Sequential`` model) is the graph in which
every layer reads the one before.
"""

from nengo_softlif.keras.layers import tf

__all__ = ["KerasGraph", "MERGES"]

#: The Keras merge layers with an equivalent in the package's networks.
MERGES = (tf.keras.layers.Add, tf.keras.layers.Concatenate)


def _outputs(layer):
    out = layer.output
    return out if isinstance(out, (list, tuple)) else [out]


def _inputs(layer):
    inp = layer.input
    return inp if isinstance(inp, (list, tuple)) else [inp]


class KerasGraph:
    """The layers of a one-input, one-output tf.keras model and how they connect.

    Parameters
    ----------
    model : tf.keras.Model
        A built model (see :func:`.check_model`).

    Attributes
    ----------
    layers : list
        The layers other than the input, each after the layers it reads.
    output_layer : tf.keras.layers.Layer
        The layer whose output is the model's output.
    input_layer : tf.keras.layers.InputLayer
        The model's input.

    Raises
    ------
    TypeError
        If a layer is used more than once (a shared layer).
    """

    def __init__(self, model):
        self.model = model
        if isinstance(model, tf.keras.Sequential):
            self._chain(model)
            return
        producer = {}
        for layer in model.layers:
            try:
                outputs = _outputs(layer)
            except AttributeError:  # several inbound nodes: used more than once
                raise self._shared(model, layer) from None
            for tensor in outputs:
                producer[id(tensor)] = layer
        self.layers = [
            layer
            for layer in model.layers
            if not isinstance(layer, tf.keras.layers.InputLayer)
        ]
        self._inbound = {}
        for layer in self.layers:
            unknown = [t for t in _inputs(layer) if id(t) not in producer]
            if unknown:
                raise self._shared(model, layer)
            self._inbound[layer.name] = [producer[id(t)] for t in _inputs(layer)]
        self._readers = {layer.name: [] for layer in model.layers}
        for layer in self.layers:
            for source in self._inbound[layer.name]:
                self._readers[source.name].append(layer)
        self.output_layer = producer[id(model.outputs[0])]
        self.input_layer = producer[id(model.inputs[0])]

    def _chain(self, model):
        """A ``Sequential`` model: every layer reads the one before."""
        self.layers = [
            layer
            for layer in model.layers
            if not isinstance(layer, tf.keras.layers.InputLayer)
        ]
        self.input_layer = tf.keras.layers.InputLayer(model.input_shape[1:])
        before = [self.input_layer, *self.layers]
        self._inbound = {
            layer.name: [source]
            for source, layer in zip(before[:-1], self.layers, strict=True)
        }
        self._readers = {
            source.name: [layer]
            for source, layer in zip(before[:-1], self.layers, strict=True)
        }
        self._readers[self.layers[-1].name] = []
        self.output_layer = self.layers[-1]

    @staticmethod
    def _shared(model, reader):
        """The error for a model in which a layer is used more than once."""
        shared = [
            layer
            for layer in model.layers
            if len(getattr(layer, "inbound_nodes", ())) > 1
        ] or [reader]
        return TypeError(
            f"Keras layer {shared[0].name!r} ({type(shared[0]).__name__}) is used "
            f"more than once in model {model.name!r}; the package's networks give "
            "every layer its own weights: make one layer per use"
        )

    def inbound(self, layer):
        """The layers whose outputs ``layer`` reads (an InputLayer for the input)."""
        return self._inbound[layer.name]

    def readers(self, layer):
        """The layers that read the output of ``layer``."""
        return self._readers[layer.name]

    def before(self, layer):
        """The one layer ``layer`` reads, or None if it reads several."""
        inbound = self.inbound(layer)
        return inbound[0] if len(inbound) == 1 else None

    def sole_reader(self, layer):
        """The layer after ``layer`` in a chain: the only layer reading it, and
        reading only it (None otherwise)."""
        readers = self.readers(layer)
        if len(readers) != 1 or len(self.inbound(readers[0])) != 1:
            return None
        return readers[0]

    @staticmethod
    def is_input(layer):
        """Whether ``layer`` is the model's input."""
        return isinstance(layer, tf.keras.layers.InputLayer)

    @staticmethod
    def name_of(layer):
        """The name of a layer in messages ('the input' for the input)."""
        return "the input" if KerasGraph.is_input(layer) else layer.name
