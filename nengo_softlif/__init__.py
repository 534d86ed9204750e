"""nengo-softlif: train deep networks of soft LIF rate neurons, run them as spikes.

An implementation of E. Hunsberger and C. Eliasmith, "Spiking Deep Networks with
LIF Neurons" (2015) and "Training Spiking Deep Networks for Neuromorphic Hardware"
(2016) for the Nengo ecosystem.

``import nengo_softlif`` imports nengo and numpy only. The nengo-dl builders are
registered when ``nengo_dl`` is first imported, by anyone.
"""

from nengo_softlif import compat, import_hooks, moved
from nengo_softlif.evaluation.runner import Protocol, evaluate
from nengo_softlif.network.architectures import build_network
from nengo_softlif.network.convert import to_hard_rate, to_spiking
from nengo_softlif.neurons import (
    NOISE_MODELS,
    PRESETS,
    Compose,
    Dropout,
    GaussianNoise,
    LIFParams,
    RateGaussianNoise,
    RectifiedLinear,
    SoftLIFRate,
    SpikeNoise,
    TrainingNoise,
    parse_noise,
    register_noise,
)
from nengo_softlif.transforms.sparse import AveragePoolSparse, LocallyConnectedSparse
from nengo_softlif.version import version as __version__

__all__ = [
    "SoftLIFRate",
    "RectifiedLinear",
    "LIFParams",
    "PRESETS",
    "TrainingNoise",
    "GaussianNoise",
    "Dropout",
    "Compose",
    "SpikeNoise",
    "RateGaussianNoise",
    "NOISE_MODELS",
    "register_noise",
    "parse_noise",
    "build_network",
    "LocallyConnectedSparse",
    "AveragePoolSparse",
    "to_spiking",
    "to_hard_rate",
    "evaluate",
    "Protocol",
    "__version__",
]


def _register_nengo_dl_builders(nengo_dl):
    compat.fix_tensor_node_copy(nengo_dl)
    import nengo_softlif.dl.neuron_builders  # noqa: F401  (neurons and training noise)
    import nengo_softlif.dl.transform_builders  # noqa: F401  (windowed sparse transforms)

    if not import_hooks.is_importing("nengo_softlif.keras"):
        # nengo_dl.Converter support; when nengo_softlif.keras is what imports
        # nengo_dl, it imports its converters itself once its layers exist
        import nengo_softlif.keras.converters  # noqa: F401


# nengo-dl 3.6 under Keras >= 2.13 (inert, imports nothing), the nengo-dl
# builders as soon as anyone imports nengo_dl, and nengo-loihi 1.1 on numpy 2
compat.install_keras_aliases()
moved.install()
import_hooks.when_imported("nengo_dl", _register_nengo_dl_builders)
import_hooks.when_imported("nengo_loihi", compat.fix_nengo_loihi_numpy2)
