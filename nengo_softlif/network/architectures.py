"""The paper's architectures as data, and the one function that builds them.

The rate network that is trained and the spiking network that is evaluated come
from the same :class:`Architecture`; :func:`build_network` makes a plain
`nengo.Network` from it, and :func:`nengo_softlif.to_spiking` converts that network.

An architecture is a chain of layers, or a small graph: a layer reads the layer
before it unless its ``inputs`` name other earlier layers, and the merge layers
(`.Add`, `.Concatenate`) read several (:meth:`Architecture.layer_inputs`).
"""

import dataclasses

import nengo
import numpy as np

from nengo_softlif.network.layers import (
    AvgPool,
    BuiltLayer,
    Conv,
    Dense,
    LayerContext,
    LocallyConnected,
    MaxPool,
    Output,
    build_layer,
)
from nengo_softlif.network.merges import is_merge
from nengo_softlif.neurons.softlif import PRESETS, LIFParams

#: The name of the network's input in a layer's ``inputs``.
INPUT = "input"

__all__ = [
    "INPUT",
    "Architecture",
    "architecture_difference",
    "SoftLIFNetwork",
    "build_network",
    "layer_names",
    "mnist_architecture",
    "cifar10_architecture",
    "ARCHITECTURES",
]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A feed-forward network as data.

    Parameters
    ----------
    name : str
        Identifier (stored in checkpoints).
    input_shape : tuple of int
        ``(height, width, channels)`` of the (cropped) input image.
    layers : tuple
        Layer specs from :mod:`nengo_softlif.network.layers` (and the merges of
        :mod:`nengo_softlif.network.merges`), the last one an `.Output`. Each
        reads the layer before it, or the earlier layers its ``inputs`` name.
    """

    name: str
    input_shape: tuple
    layers: tuple

    def __post_init__(self):
        from nengo_softlif.network.layers import LAYER_BUILDERS  # pylint: disable=C0415

        unsupported = [s for s in self.layers if type(s) not in LAYER_BUILDERS]
        if unsupported:
            raise TypeError(
                f"Unsupported layer(s) {unsupported!r} in architecture {self.name!r}: "
                f"supported layers are {sorted(t.__name__ for t in LAYER_BUILDERS)}; "
                "register a builder for new kinds with nengo_softlif.network.layers.register_layer"
            )
        shape = self.input_shape
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                for d in shape
            )
        ):
            raise ValueError(
                f"Architecture {self.name!r} input_shape must be whole numbers >= 1 "
                f"(height, width, channels), got {shape!r}"
            )
        if not self.layers or not isinstance(self.layers[-1], Output):
            raise ValueError(
                f"Architecture {self.name!r} must end with an Output layer "
                "(e.g. Output(10))"
            )
        self.layer_inputs()

    def layer_inputs(self):
        """The names of the layers each layer reads, in order.

        Returns
        -------
        list of tuple of str
            Per layer, its inputs (the layer before, or its ``inputs``);
            ``"input"`` is the network's input.

        Raises
        ------
        ValueError
            If names repeat, an input is not an earlier layer, a layer has the
            wrong number of inputs, or a layer's output is used by no later layer.
        """
        names = self.layer_names()
        where = f"Architecture {self.name!r}"
        repeated = sorted({n for n in names if names.count(n) > 1 or n == INPUT})
        if repeated:
            raise ValueError(
                f"{where} has layers named {repeated}: layer names must be unique "
                f"and not {INPUT!r} (the network's input); rename them"
            )
        resolved, used = [], set()
        for i, (spec, name) in enumerate(zip(self.layers, names, strict=True)):
            inputs = getattr(spec, "inputs", None)
            if inputs is None:
                inputs = (names[i - 1] if i else INPUT,)
            unknown = [n for n in inputs if n != INPUT and n not in names[:i]]
            if unknown:
                raise ValueError(
                    f"{where}: layer {name!r} reads {unknown}, which are not earlier "
                    f"layers; name layers that come before it (or {INPUT!r})"
                )
            if not is_merge(spec) and len(inputs) != 1:
                raise ValueError(
                    f"{where}: layer {name!r} ({type(spec).__name__}) reads "
                    f"{len(inputs)} layers {list(inputs)}; it reads one: merge "
                    "them first with an Add or Concatenate layer"
                )
            used.update(inputs)
            resolved.append(tuple(inputs))
        unused = [n for n in names[:-1] if n not in used]
        if unused:
            raise ValueError(
                f"{where}: the output of layer(s) {unused} is read by no later "
                "layer; name them in a later layer's inputs, or remove them"
            )
        return resolved

    def is_chain(self):
        """Whether every layer reads the layer before it (no merges, no skips)."""
        names = [INPUT, *self.layer_names()]
        return all(
            inputs == (names[i],) for i, inputs in enumerate(self.layer_inputs())
        )

    def layer_names(self):
        """Unique names of the layers (``conv1``, ``pool1``, ...)."""
        return layer_names(self.layers)

    def names_of(self, *kinds):
        """The names of the layers whose specs are of ``kinds``, in order."""
        return [
            name
            for name, spec in zip(self.layer_names(), self.layers, strict=True)
            if isinstance(spec, kinds)
        ]

    def with_max_pooling(self):
        """The same architecture with every `.AvgPool` replaced by `.MaxPool`."""
        layers = tuple(
            (
                MaxPool(s.size, s.stride, name=s.name, inputs=s.inputs)
                if isinstance(s, AvgPool)
                else s
            )
            for s in self.layers
        )
        return dataclasses.replace(self, name=f"{self.name}-maxpool", layers=layers)

    def with_pool_edges(self, edges):
        """The same architecture with every `.AvgPool`'s ``edges`` set to ``edges``.

        ``"padded"`` gives pools that Loihi computes exactly (see `.AvgPool`);
        the weights of the other layers keep their shapes, so a network trained
        with one kind of edges can be fine-tuned with the other.
        """
        layers = tuple(
            dataclasses.replace(s, edges=edges) if isinstance(s, AvgPool) else s
            for s in self.layers
        )
        return dataclasses.replace(self, layers=layers)

    def to_dict(self):
        """JSON-friendly description (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "layers": [
                {"type": type(s).__name__, **_spec_dict(s)} for s in self.layers
            ],
        }

    @classmethod
    def from_dict(cls, data):
        """Rebuild an architecture from :meth:`to_dict` output."""
        from nengo_softlif.network.layers import LAYER_BUILDERS  # noqa: PLC0415

        kinds = {t.__name__: t for t in LAYER_BUILDERS}
        layers = []
        for item in data["layers"]:
            item = dict(item)
            kind = item.pop("type")
            if kind not in kinds:
                raise ValueError(f"Unknown layer type {kind!r} in architecture data")
            layers.append(kinds[kind](**item))
        return cls(data["name"], tuple(data["input_shape"]), tuple(layers))


def architecture_difference(stored, architecture):
    """Where a stored architecture description (:meth:`Architecture.to_dict`)
    first differs from ``architecture``, in words ("" if they are the same)."""
    current = architecture.to_dict()
    if stored == current:
        return ""
    if stored["name"] != current["name"]:
        return f"{stored['name']!r}, not {current['name']!r}"
    pairs = zip(stored["layers"], current["layers"], strict=False)
    for i, (a, b) in enumerate(pairs):
        if a != b:
            return f"layer {i + 1} is {a}, not {b}"
    return f"{len(stored['layers'])} layers, not {len(current['layers'])}"


def layer_names(layers):
    """The names of layer specs in an architecture: their own, or by kind and
    position (``conv1``, ``pool1``, ``add1``, ..., ``output``)."""
    counts, names = {}, []
    for spec in layers:
        if spec.name is not None:
            names.append(spec.name)
            continue
        kind = {
            Conv: "conv",
            AvgPool: "pool",
            MaxPool: "pool",
            LocallyConnected: "local",
            Dense: "fc",
            Output: "output",
        }.get(
            type(spec),
            getattr(type(spec), "default_name", type(spec).__name__.lower()),
        )
        counts[kind] = counts.get(kind, 0) + 1
        names.append(kind if kind == "output" else f"{kind}{counts[kind]}")
    return names


def _spec_dict(spec):
    """A layer spec's fields, without graph fields that have their default."""
    values = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.metadata.get("omit_default") and value == field.default:
            continue
        values[field.name] = list(value) if isinstance(value, tuple) else value
    return values


def mnist_architecture(n_classes=10):
    """The MNIST network of Hunsberger & Eliasmith (2016): 27,088 neurons.

    28x28 -> conv 16 5x5 pad 2 -> avg-pool 2 -> conv 64 5x5 pad 2 -> avg-pool 2
    -> fc 2000 (dropout 0.5) -> fc 10.
    """
    return Architecture(
        "mnist",
        (28, 28, 1),
        (
            Conv(16, 5, padding=2),
            AvgPool(2),
            Conv(64, 5, padding=2),
            AvgPool(2),
            Dense(2000, dropout=0.5),
            Output(n_classes),
        ),
    )


def cifar10_architecture(n_classes=10):
    """The CIFAR-10 network of Hunsberger & Eliasmith (2015): 49,536 neurons.

    24x24x3 -> conv 64 5x5 pad 2 -> avg-pool 3/2 -> conv 64 5x5 pad 2 ->
    avg-pool 3/2 -> local 64 3x3 pad 1 -> local 32 3x3 pad 1 -> fc 10.
    """
    return Architecture(
        "cifar10",
        (24, 24, 3),
        (
            Conv(64, 5, padding=2),
            AvgPool(3, 2),
            Conv(64, 5, padding=2),
            AvgPool(3, 2),
            LocallyConnected(64, 3, padding=1),
            LocallyConnected(32, 3, padding=1),
            Output(n_classes),
        ),
    )


#: Architectures by name (for checkpoints and the command line).
ARCHITECTURES = {"mnist": mnist_architecture, "cifar10": cifar10_architecture}


class SoftLIFNetwork(nengo.Network):
    """A `nengo.Network` built from an :class:`Architecture`.

    Attributes
    ----------
    architecture : `.Architecture`
    lif_params : `.LIFParams`
        Neuron time constants, amplitude, gain and initial bias.
    neuron_type : `nengo.neurons.NeuronType`
        The neuron type the network was built with (before any conversion).
    inp : `nengo.Node`
        The input (flattened channels-last image).
    out : `nengo.Node`
        The linear output (class scores).
    out_probe : `nengo.Probe`
        Probe on ``out`` (unfiltered).
    layers : dict of str -> BuiltLayer
        Each layer's nengo objects, in order.
    """

    def __init__(self, architecture, neuron_type, lif_params, seed=0, label=None):
        super().__init__(label=label or architecture.name, seed=seed)
        self.architecture = architecture
        self.lif_params = lif_params
        self.neuron_type = neuron_type
        self.layers = {}
        rng = np.random.default_rng(seed)
        with self:
            self.inp = nengo.Node(
                np.zeros(int(np.prod(architecture.input_shape))), label="input"
            )
            built = {
                INPUT: BuiltLayer(INPUT, self.inp, tuple(architecture.input_shape))
            }
            ctx = LayerContext(
                network=self,
                source=self.inp,
                shape=tuple(architecture.input_shape),
                neuron_type=neuron_type,
                gain=lif_params.gain,
                bias=lif_params.bias,
                rng=rng,
            )
            for spec, name, inputs in zip(
                architecture.layers,
                architecture.layer_names(),
                architecture.layer_inputs(),
                strict=True,
            ):
                ctx.inputs = [built[n] for n in inputs]
                ctx.source, ctx.shape = ctx.inputs[0].output, ctx.inputs[0].shape
                built[name] = self.layers[name] = build_layer(spec, name, ctx)
            self.out = built[name].output
            self.out_probe = nengo.Probe(self.out, synapse=None, label="output_probe")

    @property
    def layer_ensembles(self):
        """The ensembles of the layers with neurons, by layer name."""
        return {n: b.ensemble for n, b in self.layers.items() if b.ensemble is not None}

    @property
    def n_neurons(self):
        """Number of neurons in the network."""
        return sum(e.n_neurons for e in self.layer_ensembles.values())


def build_network(architecture, neuron_type=None, lif_params="mnist", seed=0):
    """Build a network of plain nengo objects from an architecture.

    Parameters
    ----------
    architecture : `.Architecture` or str
        An architecture, or the name of one of :data:`ARCHITECTURES`.
    neuron_type : `nengo.neurons.NeuronType`, optional
        Neurons of every layer; by default a `.SoftLIFRate` (sigma 0.02, no noise)
        with the time constants of ``lif_params``.
    lif_params : `.LIFParams` or str
        Gain, initial bias (and default neuron constants), or a preset name
        (``"mnist"`` or ``"cifar10"``).
    seed : int
        Seed of the weight initialisation and of the network.

    Returns
    -------
    SoftLIFNetwork
    """
    if isinstance(architecture, str):
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {architecture!r}; choose one of "
                f"{sorted(ARCHITECTURES)} or pass an Architecture"
            )
        architecture = ARCHITECTURES[architecture]()
    if isinstance(lif_params, str):
        if lif_params not in PRESETS:
            raise ValueError(
                f"Unknown neuron preset {lif_params!r}; choose one of {sorted(PRESETS)}"
            )
        lif_params = PRESETS[lif_params]
    if not isinstance(lif_params, LIFParams):
        raise TypeError(
            f"lif_params must be a LIFParams or a preset name, got {lif_params!r}"
        )
    if neuron_type is None:
        neuron_type = lif_params.soft_lif()
    if not isinstance(neuron_type, nengo.neurons.NeuronType):
        raise TypeError(f"neuron_type must be a nengo NeuronType, got {neuron_type!r}")
    return SoftLIFNetwork(architecture, neuron_type, lif_params, seed=seed)
