"""Neuron types and the training noise on their outputs.

``softlif``
    `.SoftLIFRate` (the LIF rate curve with a softplus-smoothed threshold), the
    paper's `.LIFParams` presets, and the rate functions.
``refractory_relu``
    Rectified-linear rates with a refractory period (and their smoothed form).
``noise``
    Training noise models (`.GaussianNoise`, `.SpikeNoise`, ...) and their registry.
``spike_statistics``
    The mean and spread of a filtered spike train: the physics the noise models
    and the figures share.
"""

from nengo_softlif.neurons.noise import (
    NOISE_MODELS,
    Compose,
    Dropout,
    GaussianNoise,
    RateGaussianNoise,
    SpikeNoise,
    TrainingNoise,
    TrainingNoiseParam,
    parse_noise,
    register_noise,
    to_spec,
)
from nengo_softlif.neurons.refractory_relu import (
    RefractoryRectifiedLinear,
    SoftRefractoryRectifiedLinear,
    refractory_relu_rates,
    soft_refractory_relu_derivative,
    soft_refractory_relu_rates,
)
from nengo_softlif.neurons.softlif import (
    PRESETS,
    LIFParams,
    RectifiedLinear,
    SoftLIFRate,
    hard_lif_rates,
    replace_params,
    soft_lif_derivative,
    soft_lif_rates,
)
from nengo_softlif.neurons.spike_statistics import (
    alpha_filtered_spike_std,
    alpha_filtered_spike_value,
    filtered_spike_statistics,
)

__all__ = [
    "alpha_filtered_spike_std",
    "alpha_filtered_spike_value",
    "filtered_spike_statistics",
    "NOISE_MODELS",
    "Compose",
    "Dropout",
    "GaussianNoise",
    "RateGaussianNoise",
    "SpikeNoise",
    "TrainingNoise",
    "TrainingNoiseParam",
    "parse_noise",
    "register_noise",
    "to_spec",
    "RefractoryRectifiedLinear",
    "SoftRefractoryRectifiedLinear",
    "refractory_relu_rates",
    "soft_refractory_relu_derivative",
    "soft_refractory_relu_rates",
    "PRESETS",
    "LIFParams",
    "RectifiedLinear",
    "SoftLIFRate",
    "hard_lif_rates",
    "replace_params",
    "soft_lif_derivative",
    "soft_lif_rates",
]
