"""Smoothing beyond LIF: the refractory rectified-linear (integrate-and-fire) neuron.

A non-leaky integrate-and-fire neuron (``dV/dt = J``, threshold 1, reset to 0)
with a refractory period ``tau_ref`` fires at

    r(J) = 1 / (tau_ref + 1 / J)    for J > 0, else 0,

the rate of `nengo.SpikingRectifiedLinear` once a refractory period is added: a
ReLU near zero that saturates at ``1 / tau_ref``. Its slope jumps from 0 to 1 at
``J = 0``, the same kind of discontinuity the soft LIF removes. The soft version
applies the paper's smoothing, ``J -> rho(J) = sigma log(1 + exp(J / sigma))``,
so the derivative is continuous and bounded; sigma is in units of J (Hz).

After training, :func:`nengo_softlif.to_spiking` turns
`SoftRefractoryRectifiedLinear` into ``nengo.RegularSpiking`` around the hard
`RefractoryRectifiedLinear`: spikes at exactly the hard rate, at regular
intervals, which for constant input is the integrate-and-fire neuron's train.
Training noise (Gaussian, the spike-train models) works unchanged: the models
act on the rate, whatever neuron produced it.
"""

import nengo
import numpy as np

from nengo_softlif.neurons.noise import TrainingNoiseParam
from nengo_softlif.params import FiniteNumberParam

__all__ = [
    "refractory_relu_rates",
    "soft_refractory_relu_rates",
    "soft_refractory_relu_derivative",
    "RefractoryRectifiedLinear",
    "SoftRefractoryRectifiedLinear",
]


def refractory_relu_rates(J, tau_ref, amplitude=1.0):
    """Hard rates ``amplitude / (tau_ref + 1/J)`` for ``J > 0``, else 0."""
    J = np.asarray(J, dtype=float)
    positive = np.maximum(J, 0.0)
    return amplitude * positive / (tau_ref * positive + 1.0)


def _soft_current(J, sigma):
    """``sigma * log(1 + exp(J / sigma))`` (no overflow for large J)."""
    return sigma * np.logaddexp(0.0, np.asarray(J, dtype=float) / sigma)


def soft_refractory_relu_rates(J, sigma, tau_ref, amplitude=1.0):
    """Soft rates: :func:`refractory_relu_rates` of the softplus-smoothed current."""
    rho = _soft_current(J, sigma)
    return amplitude * rho / (tau_ref * rho + 1.0)


def soft_refractory_relu_derivative(J, sigma, tau_ref, amplitude=1.0):
    """Derivative of :func:`soft_refractory_relu_rates` with respect to J.

    ``amplitude * sigmoid(J / sigma) / (tau_ref * rho + 1)**2``: continuous, in
    ``[0, amplitude]``.
    """
    J = np.asarray(J, dtype=float)
    rho = _soft_current(J, sigma)
    sigmoid = np.exp(-np.logaddexp(0.0, -J / sigma))
    return amplitude * sigmoid / (tau_ref * rho + 1.0) ** 2


class RefractoryRectifiedLinear(nengo.neurons.NeuronType):
    """Rate of a non-leaky integrate-and-fire neuron with a refractory period.

    ``r(J) = amplitude / (tau_ref + 1/J)`` for ``J > 0``. Its spiking counterpart
    is ``nengo.RegularSpiking(RefractoryRectifiedLinear(tau_ref), amplitude=...)``.

    Parameters
    ----------
    tau_ref : float
        Refractory period (s); the rate saturates at ``1 / tau_ref``.
    amplitude : float
        Output scale.
    initial_state : dict, optional
    """

    negative = False
    tau_ref = FiniteNumberParam("tau_ref", low=0)
    amplitude = FiniteNumberParam("amplitude", low=0, low_open=True)

    def __init__(self, tau_ref=0.002, amplitude=1.0, initial_state=None):
        super().__init__(initial_state=initial_state)
        self.tau_ref = tau_ref
        self.amplitude = amplitude

    def gain_bias(self, max_rates, intercepts):
        """Gain and bias giving ``max_rates`` at x = 1 and zero rate at ``intercepts``."""
        max_rates = np.asarray(max_rates, dtype=float)
        intercepts = np.asarray(intercepts, dtype=float)
        if np.any(max_rates * self.tau_ref >= 1):
            raise ValueError(
                f"max_rates must be below 1/tau_ref = {1 / self.tau_ref:g} Hz"
            )
        j_max = max_rates / (1.0 - self.tau_ref * max_rates)  # r(j_max) = max_rate
        gain = j_max / (1.0 - intercepts)
        return gain, -gain * intercepts

    def max_rates_intercepts(self, gain, bias):
        """Inverse of :meth:`gain_bias`."""
        intercepts = -np.asarray(bias) / np.asarray(gain)
        max_rates = refractory_relu_rates(
            np.asarray(gain) * (1 - intercepts), self.tau_ref
        )
        return max_rates, intercepts

    def step(self, dt, J, output):
        """Hard rates (times ``amplitude``)."""
        output[...] = refractory_relu_rates(J, self.tau_ref, self.amplitude)


class SoftRefractoryRectifiedLinear(RefractoryRectifiedLinear):
    """`RefractoryRectifiedLinear` with its kink at ``J = 0`` smoothed by a softplus.

    Parameters
    ----------
    sigma : float
        Smoothing, in units of J (the hard neuron is the limit sigma -> 0).
    tau_ref : float
        Refractory period (s).
    amplitude : float
        Output scale.
    noise : `.TrainingNoise` or None
        Noise on the rates in nengo-dl training only (acts where ``J > 0``).
    initial_state : dict, optional
    """

    sigma = FiniteNumberParam("sigma", low=0, low_open=True)
    noise = TrainingNoiseParam("noise", optional=True)

    def __init__(
        self, sigma=1.0, tau_ref=0.002, amplitude=1.0, noise=None, initial_state=None
    ):
        super().__init__(
            tau_ref=tau_ref, amplitude=amplitude, initial_state=initial_state
        )
        self.sigma = sigma
        self.noise = noise

    def step(self, dt, J, output):
        """Noise-free soft rates (noise acts in nengo-dl training only)."""
        output[...] = soft_refractory_relu_rates(
            J, self.sigma, self.tau_ref, self.amplitude
        )

    def derivative(self, x, gain, bias):
        """``gain * d rate / dJ`` at ``J = gain * x + bias`` (bounded, continuous)."""
        J = self.current(x, gain, bias)
        return np.asarray(gain) * soft_refractory_relu_derivative(
            J, self.sigma, self.tau_ref, self.amplitude
        )
