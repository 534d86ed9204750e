"""Networks: layer specs, the papers' architectures, conversion and checkpoints.

``layers``
    Layer specs (`.Conv`, `.AvgPool`, `.LocallyConnected`, `.Dense`, `.Output`)
    and the registry that builds them into nengo.
``merges``
    Merge layers (`.Add`, `.Concatenate`), with which a network is a small graph.
``architectures``
    `.Architecture`, `.build_network` and the papers' MNIST and CIFAR-10 networks.
``convert``
    The same network with other neurons: `.to_spiking`, `.to_hard_rate`.
``checkpoint``
    Saving and loading trained parameters (`.save_checkpoint`, `.load_network`).
"""

from nengo_softlif.network.architectures import (
    ARCHITECTURES,
    Architecture,
    SoftLIFNetwork,
    build_network,
    cifar10_architecture,
    mnist_architecture,
)
from nengo_softlif.network.checkpoint import (
    NEURON_TYPES,
    CheckpointError,
    load_checkpoint,
    load_network,
    register_neuron_type,
    save_checkpoint,
)
from nengo_softlif.network.convert import (
    HARD_EQUIVALENTS,
    SPIKING_EQUIVALENTS,
    copy_network,
    register_spiking_equivalent,
    to_hard_rate,
    to_spiking,
)
from nengo_softlif.network.layers import (
    LAYER_BUILDERS,
    AvgPool,
    Conv,
    Dense,
    LocallyConnected,
    MaxPool,
    Output,
    register_layer,
)
from nengo_softlif.network.merges import Add, Concatenate

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "SoftLIFNetwork",
    "build_network",
    "cifar10_architecture",
    "mnist_architecture",
    "NEURON_TYPES",
    "CheckpointError",
    "load_checkpoint",
    "load_network",
    "register_neuron_type",
    "save_checkpoint",
    "HARD_EQUIVALENTS",
    "SPIKING_EQUIVALENTS",
    "copy_network",
    "register_spiking_equivalent",
    "to_hard_rate",
    "to_spiking",
    "LAYER_BUILDERS",
    "AvgPool",
    "Conv",
    "Dense",
    "LocallyConnected",
    "MaxPool",
    "Output",
    "register_layer",
    "Add",
    "Concatenate",
]
