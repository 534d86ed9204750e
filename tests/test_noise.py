"""Training-noise models: numpy reference, registry, parsing, validation."""

import numpy as np
import pytest
from nengo.exceptions import ValidationError

from nengo_softlif.neurons.noise import (
    NOISE_MODELS,
    Compose,
    Dropout,
    GaussianNoise,
    TrainingNoise,
    parse_noise,
    register_noise,
    to_spec,
)


def test_gaussian_reference_statistics(rng):
    rates = np.full(200000, 50.0)
    active = np.arange(rates.size) % 2 == 0
    noisy = GaussianNoise(10).apply(rates, active, rng)
    diff = noisy - rates
    assert np.all(diff[~active] == 0)
    # N(0, 10) at 50 Hz is clipped at 0 only 5 sigma away: mean 0, std 10
    assert abs(diff[active].mean()) < 0.1
    assert abs(diff[active].std() - 10) < 0.1
    low = GaussianNoise(10).apply(np.full(1000, 1.0), np.ones(1000, bool), rng)
    assert np.all(low >= 0) and np.any(low == 0)


def test_dropout_reference(rng):
    rates = np.ones(100000)
    out = Dropout(0.5).apply(rates, np.ones_like(rates, bool), rng)
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 1) < 0.02


def test_parse_and_spec_round_trip():
    noise = parse_noise("gaussian:10+dropout:0.5")
    assert isinstance(noise, Compose)
    assert noise.components() == (GaussianNoise(10), Dropout(0.5))
    assert to_spec(noise) == "gaussian:10+dropout:0.5"
    assert parse_noise("none") is None and to_spec(None) == "none"
    assert parse_noise("gaussian") == GaussianNoise()


@pytest.mark.parametrize(
    "spec", ["gauss:10", "gaussian:-1", "gaussian:abc", "dropout:1.5"]
)
def test_bad_specs_raise_clear_errors(spec):
    with pytest.raises(ValueError, match="noise|Bad parameter"):
        parse_noise(spec)


def test_bad_parameters_raise():
    with pytest.raises(ValidationError):
        GaussianNoise(std=-1)
    with pytest.raises(ValidationError):
        Dropout(rate=1.0)
    with pytest.raises(TypeError, match="TrainingNoise"):
        Compose(GaussianNoise(), "dropout")


def test_registry_is_additive():
    @register_noise("test-uniform")
    class UniformNoise(TrainingNoise):
        def apply(self, rates, active, rng):
            return rates + rng.uniform(size=rates.shape)

    try:
        assert NOISE_MODELS["test-uniform"] is UniformNoise
        assert isinstance(parse_noise("test-uniform"), UniformNoise)
        with pytest.raises(ValueError, match="already registered"):
            register_noise("gaussian")(UniformNoise)
    finally:
        del NOISE_MODELS["test-uniform"]
