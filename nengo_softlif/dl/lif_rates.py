"""The LIF neurons' rates in TensorFlow, and the soft LIF gradient.

The functions the nengo-dl builders (:mod:`nengo_softlif.dl.neuron_builders`)
and the Keras layers (:mod:`nengo_softlif.keras.layers`) compute: soft LIF rates
with their closed-form derivative, hard LIF rates, Loihi's whole-step LIF rates,
and the hard forward pass with the soft gradient.
"""

import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.neurons.spike_statistics import discretized_lif_time_constants

import_nengo_dl()
import tensorflow as tf  # noqa: E402  (nengo-dl must be imported first: aliases)

__all__ = [
    "soft_lif_rates_tf",
    "soft_lif_derivative_tf",
    "hard_lif_rates_tf",
    "loihi_lif_rates_tf",
    "loihi_forward_constants",
    "surrogate_lif_rates_tf",
]

#: Below this ``(J - 1) / sigma`` the soft LIF uses its asymptotic form.
_ASYMPTOTIC_X = -30.0


def _soft_lif(J, sigma, tau_rc, tau_ref):
    """Soft LIF rates for ``J`` and a function giving their derivative.

    With ``x = (J - 1) / sigma`` and the smoothed excess current
    ``rho = sigma * softplus(x)``, the rate is ``r = 1 / (tau_ref + tau_rc *
    log(1 + 1 / rho))`` and its derivative ``r**2 * tau_rc * s / (sigma * (1 +
    rho))``, where ``s = sigmoid(x) / softplus(x)``. Below ``x = -30`` the
    asymptotic forms ``softplus(x) = exp(x)`` and ``s = 1`` keep both finite.
    """
    sigma = tf.cast(sigma, J.dtype)
    x = (J - 1.0) / sigma
    above = x > _ASYMPTOTIC_X
    safe = tf.maximum(x, _ASYMPTOTIC_X)
    softplus = tf.nn.softplus(safe)
    log_rho = tf.math.log(sigma) + tf.where(above, tf.math.log(softplus), x)
    rho = tf.exp(log_rho)
    rates = 1.0 / (tau_ref + tau_rc * (tf.math.log1p(rho) - log_rho))

    def derivative():
        ratio = tf.where(above, tf.math.sigmoid(safe) / softplus, tf.ones_like(x))
        return rates * rates * tau_rc * ratio / (sigma * (1.0 + rho))

    return rates, derivative


def soft_lif_rates_tf(J, sigma, tau_rc, tau_ref):
    """Soft LIF rates in Hz (amplitude 1) for a TensorFlow tensor ``J``.

    The same formula as :func:`nengo_softlif.neurons.softlif.soft_lif_rates`, with the
    same asymptotic form below the threshold so that neither the rates nor their
    gradients overflow or produce NaN, for any J. The gradient with respect to
    ``J`` is computed in closed form (:func:`soft_lif_derivative_tf`), in a
    fraction of the operations automatic differentiation of the formula takes;
    ``sigma``, ``tau_rc`` and ``tau_ref`` get none.
    """

    @tf.custom_gradient
    def rates(J):
        value, derivative = _soft_lif(J, sigma, tau_rc, tau_ref)
        return value, lambda upstream: upstream * derivative()

    return rates(J)


def soft_lif_derivative_tf(J, sigma, tau_rc, tau_ref):
    """Derivative (Hz per unit current) of :func:`soft_lif_rates_tf` at ``J``."""
    return _soft_lif(J, sigma, tau_rc, tau_ref)[1]()


def hard_lif_rates_tf(J, tau_rc, tau_ref):
    """LIF rates in Hz (amplitude 1; 0 up to the threshold) for a tensor ``J``."""
    j = J - 1.0
    safe = tf.where(j > 0, j, tf.ones_like(j))
    return tf.where(
        j > 0, 1.0 / (tau_ref + tau_rc * tf.math.log1p(1.0 / safe)), 0.0 * j
    )


def loihi_lif_rates_tf(J, dt, chip_tau_rc, chip_tau_ref):
    """Loihi's LIF rates in Hz (amplitude 1) at time step ``dt`` for a tensor ``J``.

    As :func:`nengo_softlif.neurons.spike_statistics.loihi_lif_rates`, given the
    chip's time constants (``discretized_lif_time_constants`` in
    :mod:`nengo_softlif.neurons.spike_statistics`); all three may be per-neuron
    tensors (``dt`` > 0).
    """
    dt, tau_rc, tau_ref = (
        tf.cast(v, tf.float64) for v in (dt, chip_tau_rc, chip_tau_ref)
    )
    j = tf.cast(J, tf.float64) - 1.0
    safe = tf.where(j > 0, j, tf.ones_like(j))
    period = tau_ref + tau_rc * tf.math.log1p(1.0 / safe)
    rates = tf.where(j > 0, 1.0 / (dt * tf.math.ceil(period / dt)), 0.0 * j)
    return tf.cast(rates, J.dtype)


def loihi_forward_constants(neurons, sizes):
    """``(dt, chip_tau_rc, chip_tau_ref)`` of neurons with ``loihi_dt``, or None.

    Float64 whatever the signals' type, so that whole-step periods are those of
    :func:`~nengo_softlif.neurons.spike_statistics.loihi_lif_rates`.

    Parameters
    ----------
    neurons : list
        Objects with ``tau_rc``, ``tau_ref`` and ``loihi_dt`` (neuron types, or
        Keras layers); ``dt`` is 0 for those whose ``loihi_dt`` is None.
    sizes : list of int
        Number of neurons of each.

    Returns
    -------
    tuple of tf.Tensor or None
        Per-neuron ``(1, n)`` constants (scalars when all neurons share them).
    """
    if all(n.loihi_dt is None for n in neurons):
        return None
    rows = []
    for n in neurons:
        dt = n.loihi_dt or 0.0
        chip = discretized_lif_time_constants(n.tau_rc, n.tau_ref, dt) if dt else (1, 0)
        rows.append((dt, *chip))
    if len(set(rows)) == 1:
        return tuple(tf.constant(value, dtype=tf.float64) for value in rows[0])
    return tuple(
        tf.constant(np.repeat(column, sizes)[None, :], dtype=tf.float64)
        for column in zip(*rows, strict=True)
    )


def surrogate_lif_rates_tf(J, sigma, tau_rc, tau_ref, hard=1.0, loihi=None):
    """Hard LIF rates forward, soft LIF gradient backward (where ``hard`` is 1).

    ``hard`` may be a per-neuron 0/1 tensor (a merged group of neuron ops of
    which only some have ``hard_forward``). ``loihi``, the
    :func:`loihi_forward_constants` of the
    neurons or None, makes the forward pass Loihi's LIF rate where its ``dt``
    is > 0. Where every neuron is hard (``hard`` the number 1, the default),
    the soft rates are never computed: the backward pass is
    :func:`soft_lif_derivative_tf`.
    """

    def forward_rates(J):
        rates = hard_lif_rates_tf(J, tau_rc, tau_ref)
        if loihi is not None:
            dt, chip_tau_rc, chip_tau_ref = loihi
            on_chip = dt > 0
            dt = tf.where(on_chip, dt, tf.ones_like(dt))
            chip_rates = loihi_lif_rates_tf(J, dt, chip_tau_rc, chip_tau_ref)
            rates = tf.where(on_chip, chip_rates, rates)
        return rates

    if isinstance(hard, (int, float)) and hard == 1:

        @tf.custom_gradient
        def rates(J):
            def gradient(upstream):
                return upstream * soft_lif_derivative_tf(J, sigma, tau_rc, tau_ref)

            return forward_rates(J), gradient

        return rates(J)
    soft = soft_lif_rates_tf(J, sigma, tau_rc, tau_ref)
    return soft + tf.stop_gradient(hard * (forward_rates(J) - soft))
