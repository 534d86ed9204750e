"""Training-noise models for rate neurons, and their registry.

A training-noise model perturbs a rate neuron's output while a network is trained,
so that the trained weights tolerate the variability of filtered spike trains
(Hunsberger & Eliasmith, 2015, Sec. 2.3). Noise acts only in training: in
``nengo.Simulator``, in nengo-dl inference and after conversion to spikes, neurons
are noise-free.

This module is pure numpy. Each model's ``apply`` is the numpy reference of what
the TensorFlow builder in :mod:`nengo_softlif.dl.neuron_builders` computes; the TensorFlow side of
a model is registered there, in ``TF_NOISE_IMPL``.

Adding a model takes two registrations and touches neither the neuron nor the
builders of other models::

    @register_noise("mynoise")
    class MyNoise(TrainingNoise):
        ...

    # TensorFlow side (only if the model is used with nengo-dl)
    nengo_softlif.dl.neuron_builders.TF_NOISE_IMPL[MyNoise] = MyNoiseTF
"""

import inspect

import numpy as np
from nengo.exceptions import ValidationError
from nengo.params import FrozenObject, Parameter, TupleParam

from nengo_softlif.neurons.spike_statistics import (
    alpha_filtered_spike_std,
    alpha_filtered_spike_value,
)
from nengo_softlif.params import FiniteNumberParam
from nengo_softlif.registry import Registry

__all__ = [
    "TrainingNoise",
    "GaussianNoise",
    "Dropout",
    "Compose",
    "SpikeNoise",
    "RateGaussianNoise",
    "alpha_filtered_spike_value",
    "alpha_filtered_spike_std",
    "NOISE_MODELS",
    "register_noise",
    "parse_noise",
    "to_spec",
    "TrainingNoiseParam",
]

#: Registry of training-noise models by the name used on the command line.
NOISE_MODELS = Registry("training noise model")


def register_noise(name):
    """Class decorator: register a `.TrainingNoise` under ``name``.

    Parameters
    ----------
    name : str
        The name used by :func:`parse_noise` and the command line.
    """

    def register(cls):
        if not (isinstance(cls, type) and issubclass(cls, TrainingNoise)):
            raise TypeError(f"{cls!r} must be a TrainingNoise subclass to register")
        if name in NOISE_MODELS and NOISE_MODELS[name] is not cls:
            raise ValueError(
                f"A noise model is already registered as {name!r} "
                f"({NOISE_MODELS[name].__name__}); choose another name"
            )
        NOISE_MODELS[name] = cls
        cls.registered_name = name
        return cls

    return register


class TrainingNoise(FrozenObject):
    """Base class: noise on a rate neuron's output, active only in training.

    Subclasses implement :meth:`apply` (numpy reference) and have a TensorFlow
    implementation registered in :data:`nengo_softlif.dl.neuron_builders.TF_NOISE_IMPL`.
    """

    #: Whether the backward pass ignores the noise (straight-through estimator).
    straight_through = True
    registered_name = None

    def apply(self, rates, active, rng):
        """Return noisy rates.

        Parameters
        ----------
        rates : ndarray
            Noise-free firing rates in Hz, before amplitude scaling.
        active : ndarray of bool
            Where the neuron's input current is above threshold (J > 1).
        rng : `numpy.random.Generator`
            Random number generator.

        Returns
        -------
        ndarray
            The noisy rates, same shape as ``rates``.
        """
        raise NotImplementedError("Subclasses must implement `apply`")

    def components(self):
        """The individual noise models this one applies, in order."""
        return (self,)


@register_noise("gaussian")
class GaussianNoise(TrainingNoise):
    """Additive Gaussian noise on the firing rate (the paper's model).

    ``r + N(0, std)`` in Hz, before amplitude scaling, only where ``J > 1``,
    clipped at 0. The backward pass uses the noise-free derivative.

    Parameters
    ----------
    std : float
        Standard deviation in Hz (the paper found 10 best; 20 was also reported).
    """

    std = FiniteNumberParam("std", low=0)

    def __init__(self, std=10.0):
        super().__init__()
        self.std = std

    def apply(self, rates, active, rng):
        noisy = np.maximum(rates + rng.normal(0.0, 1.0, size=rates.shape) * self.std, 0)
        return np.where(active, noisy, rates)


@register_noise("dropout")
class Dropout(TrainingNoise):
    """Inverted dropout: zero each output with probability ``rate``, scale the rest.

    Unlike the rate noise, the gradient flows through the mask (ordinary dropout).

    Parameters
    ----------
    rate : float
        Probability of dropping a neuron's output, in [0, 1).
    """

    rate = FiniteNumberParam("rate", low=0, high=1, high_open=True)
    straight_through = False

    def __init__(self, rate=0.5):
        super().__init__()
        self.rate = rate

    def apply(self, rates, active, rng):
        keep = rng.random(size=rates.shape) >= self.rate
        return np.where(keep, rates / (1.0 - self.rate), 0.0)


@register_noise("spike")
class SpikeNoise(TrainingNoise):
    """Noise drawn from the real distribution of an alpha-filtered LIF spike train.

    A spiking LIF neuron at rate ``r`` fires regularly; what the next layer sees is
    its spike train filtered by the Alpha synapse, sampled at an unknown phase.
    This model replaces the rate by that filtered value at a uniformly random
    phase of the period (:func:`alpha_filtered_spike_value`): skewed, bounded,
    with a spread that depends on the rate, and an exact mean equal to ``r``.
    Only where ``J > 1``; straight-through gradient.

    Parameters
    ----------
    tau_s : float
        Alpha synapse time constant of the spiking network (s).
    """

    tau_s = FiniteNumberParam("tau_s", low=0, low_open=True)

    def __init__(self, tau_s=0.005):
        super().__init__()
        self.tau_s = tau_s

    def apply(self, rates, active, rng):
        use = active & (rates > 0)
        safe = np.where(use, rates, 1.0)
        value = alpha_filtered_spike_value(
            rng.random(size=rates.shape), safe, self.tau_s
        )
        return np.where(use, value, rates)


@register_noise("gaussian-rate")
class RateGaussianNoise(TrainingNoise):
    """Gaussian noise whose spread is that of the filtered spike train at each rate.

    ``max(r + N(0, scale * s(r)), 0)`` where ``s(r)`` is the standard deviation of
    the alpha-filtered regular spike train at rate ``r``
    (:func:`alpha_filtered_spike_std`). Only where ``J > 1``; straight-through.

    Parameters
    ----------
    tau_s : float
        Alpha synapse time constant (s).
    scale : float
        Multiplier of the spread.
    """

    tau_s = FiniteNumberParam("tau_s", low=0, low_open=True)
    scale = FiniteNumberParam("scale", low=0)

    def __init__(self, tau_s=0.005, scale=1.0):
        super().__init__()
        self.tau_s = tau_s
        self.scale = scale

    def apply(self, rates, active, rng):
        std = self.scale * alpha_filtered_spike_std(np.maximum(rates, 0), self.tau_s)
        noisy = np.maximum(rates + rng.normal(size=rates.shape) * std, 0)
        return np.where(active, noisy, rates)


class _NoiseTuple(TupleParam):
    """A tuple of noise models, compared by value (for equal neuron types)."""

    equatable = True


class Compose(TrainingNoise):
    """Several noise models applied one after the other.

    Parameters
    ----------
    noises : tuple of `.TrainingNoise`
        Applied in the given order (e.g. rate noise, then dropout).
    """

    noises = _NoiseTuple("noises")

    def __init__(self, *noises):
        super().__init__()
        flat = []
        for noise in noises:
            if not isinstance(noise, TrainingNoise):
                raise TypeError(
                    f"Compose takes TrainingNoise objects, got {noise!r}; use e.g. "
                    "Compose(GaussianNoise(10), Dropout(0.5))"
                )
            flat.extend(noise.components())
        self.noises = tuple(flat)

    def components(self):
        return self.noises

    def __repr__(self):
        return f"Compose({', '.join(repr(n) for n in self.noises)})"

    def apply(self, rates, active, rng):
        for noise in self.noises:
            rates = noise.apply(rates, active, rng)
        return rates


class TrainingNoiseParam(Parameter):
    """A neuron-type parameter holding a `.TrainingNoise` (or None)."""

    equatable = True

    def coerce(self, instance, noise):
        if noise is not None and not isinstance(noise, TrainingNoise):
            raise ValidationError(
                f"must be a TrainingNoise (one of {sorted(NOISE_MODELS)}, e.g. "
                f"GaussianNoise(std=10)) or None; got {noise!r}",
                attr=self.name,
                obj=instance,
            )
        return super().coerce(instance, noise)


def _arg_names(cls):
    """Constructor parameters of a noise model, in order (its spec's fields)."""
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def parse_noise(spec):
    """Build a noise model from a command-line string.

    Parameters
    ----------
    spec : str or None
        ``"none"``, ``"gaussian:10"``, ``"dropout:0.5"``, ``"spike:0.005"``,
        ``"gaussian-rate:0.005:1"`` (a model's name, then its constructor's
        arguments in order, separated by ``":"``), or several joined with ``"+"``
        (``"gaussian:10+dropout:0.5"``).

    Returns
    -------
    `.TrainingNoise` or None
    """
    if spec is None or str(spec).strip().lower() in ("", "none", "0"):
        return None
    parts = []
    for item in str(spec).split("+"):
        name, *args = item.strip().split(":")
        if name not in NOISE_MODELS:
            raise ValueError(
                f"Unknown noise model {name!r} in {spec!r}; registered models: "
                f"{sorted(NOISE_MODELS)} (write e.g. 'gaussian:10')"
            )
        cls = NOISE_MODELS[name]
        names = _arg_names(cls)
        if len(args) > len(names):
            usage = ":".join([name] + [n.upper() for n in names])
            raise ValueError(
                f"Bad parameters in noise spec {item!r}: {len(args)} given, but {name!r} takes "
                f"at most {len(names)} ({', '.join(names) or 'none'}): write {usage!r}"
            )
        try:
            values = [float(a) for a in args if a]
        except ValueError as err:
            raise ValueError(
                f"Bad parameter in noise spec {item!r}: parameters must be numbers "
                f"({err})"
            ) from err
        try:
            parts.append(cls(*values))
        except Exception as err:
            raise ValueError(f"Bad parameter in noise spec {item!r}: {err}") from err
    return parts[0] if len(parts) == 1 else Compose(*parts)


def to_spec(noise):
    """The command-line string of a noise model (inverse of :func:`parse_noise`).

    Parameters
    ----------
    noise : `.TrainingNoise` or None

    Returns
    -------
    str
    """
    if noise is None:
        return "none"
    parts = []
    for component in noise.components():
        if component.registered_name is None:
            raise ValueError(
                f"{type(component).__name__} is not registered; decorate it with "
                "@register_noise(name) to save or parse it"
            )
        args = _arg_names(type(component))
        values = "".join(f":{getattr(component, a):g}" for a in args)
        parts.append(component.registered_name + values)
    return "+".join(parts)
