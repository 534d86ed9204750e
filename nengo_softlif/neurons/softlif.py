"""The soft LIF rate neuron and the paper's neuron presets (pure nengo + numpy)."""

import dataclasses

import nengo
import numpy as np
from nengo.params import BoolParam

from nengo_softlif.neurons.noise import TrainingNoiseParam
from nengo_softlif.neurons.spike_statistics import hard_lif_rates, loihi_lif_rates
from nengo_softlif.params import FiniteNumberParam

__all__ = [
    "SoftLIFRate",
    "RectifiedLinear",
    "LIFParams",
    "PRESETS",
    "soft_lif_rates",
    "hard_lif_rates",
    "soft_lif_derivative",
    "replace_params",
]

#: Below this value of (J - 1) / sigma, softplus(x) == exp(x) to double precision
#: and the asymptotic forms are used (no overflow, no log(0)).
_ASYMPTOTIC_X = -30.0


def _log_softplus(x):
    """``log(log(1 + exp(x)))``, without underflow for very negative x."""
    x = np.asarray(x, dtype=float)
    safe = np.maximum(x, _ASYMPTOTIC_X)
    return np.where(x > _ASYMPTOTIC_X, np.log(np.logaddexp(0.0, safe)), x)


def soft_lif_rates(J, sigma, tau_rc, tau_ref, amplitude=1.0):
    """Soft LIF firing rates for input current ``J`` (numerically safe for any J).

    ``r = amplitude / (tau_ref + tau_rc * log(1 + 1/rho))`` with
    ``rho = sigma * log(1 + exp((J - 1) / sigma))``.

    Parameters
    ----------
    J : array_like
        Input current (threshold at 1).
    sigma : float
        Smoothing (the paper's gamma); the hard LIF is the limit sigma -> 0.
    tau_rc, tau_ref : float
        Membrane and refractory time constants (s).
    amplitude : float
        Output scale.

    Returns
    -------
    ndarray
        Rates (Hz times amplitude), never negative, NaN or inf for finite J.
    """
    x = (np.asarray(J, dtype=float) - 1.0) / sigma
    log_rho = np.log(sigma) + _log_softplus(x)
    rho = np.exp(log_rho)
    # log(1 + 1/rho) = log1p(rho) - log(rho): exact, and finite as rho -> 0
    log_term = np.log1p(rho) - log_rho
    return amplitude / (tau_ref + tau_rc * log_term)


def soft_lif_derivative(J, sigma, tau_rc, tau_ref, amplitude=1.0):
    """Derivative of :func:`soft_lif_rates` with respect to ``J``.

    Bounded for all J (the point of the soft LIF): it tends to 0 far below the
    threshold, and to ``amplitude * tau_rc / (tau_ref + tau_rc*log(1+1/j))**2 /
    (j*(j+1))`` above it.
    """
    x = (np.asarray(J, dtype=float) - 1.0) / sigma
    log_rho = np.log(sigma) + _log_softplus(x)
    rho = np.exp(log_rho)
    denom = tau_ref + tau_rc * (np.log1p(rho) - log_rho)
    # d rho / dJ = sigmoid(x); sigmoid(x) / rho -> 1 / sigma as x -> -inf
    safe = np.maximum(x, _ASYMPTOTIC_X)
    log_rho_safe = np.log(sigma) + _log_softplus(safe)
    sig_over_rho = np.where(
        x > _ASYMPTOTIC_X,
        np.exp(-np.logaddexp(0.0, -safe) - log_rho_safe),
        1.0 / sigma,
    )
    return amplitude * tau_rc * sig_over_rho / ((1.0 + rho) * denom**2)


class SoftLIFRate(nengo.LIFRate):
    """LIF rate neuron with its threshold smoothed by a softplus.

    The hard LIF rate ``1 / (tau_ref + tau_rc * log(1 + 1/(J-1)))`` has an
    unbounded derivative at the threshold ``J = 1``. The soft LIF replaces
    ``J - 1`` by ``sigma * log(1 + exp((J - 1) / sigma))``, which keeps the
    derivative bounded, so the network can be trained with backpropagation
    (Hunsberger & Eliasmith, 2015, Eq. 3). As ``sigma -> 0`` it becomes
    `nengo.LIFRate`; after training, :func:`nengo_softlif.to_spiking` replaces it
    with `nengo.LIF` with the same parameters.

    ``gain_bias`` and ``max_rates_intercepts`` are those of `nengo.LIFRate` (the
    hard neuron): the same gain and bias then describe the same neuron once it
    spikes.

    Parameters
    ----------
    sigma : float
        Smoothing of the threshold (the paper's gamma; 0.02 in training).
    tau_rc : float
        Membrane RC time constant (s).
    tau_ref : float
        Refractory period (s).
    amplitude : float
        Scaling of the output (the paper uses 0.063).
    noise : `.TrainingNoise` or None
        Noise added to the rates while training in nengo-dl only
        (e.g. ``GaussianNoise(std=10)``); never in inference or in `nengo.Simulator`.
    hard_forward : bool
        Compute the hard LIF rate (`nengo.LIFRate`'s) in the forward pass and use
        the soft LIF derivative only for the gradient (a surrogate gradient): the
        trained network is then exactly the hard one that spikes.
    loihi_dt : float, optional
        With ``hard_forward``: the forward pass is the rate of Loihi's LIF
        neuron at this time step (s) instead (nengo-loihi's ``LoihiLIF``, which
        fires on whole steps; see
        :func:`~nengo_softlif.neurons.spike_statistics.loihi_lif_rates`), the
        gradient still the soft LIF's: training for the chip. Converted to
        spikes, the network still gets `nengo.LIF` (on the Loihi backend,
        ``LoihiLIF``).
    initial_state : dict, optional
        As for other nengo neuron types (soft LIF has no state).

    References
    ----------
    .. [1] E. Hunsberger and C. Eliasmith, "Spiking Deep Networks with LIF
       Neurons", arXiv:1510.08829, 2015.
    """

    sigma = FiniteNumberParam("sigma", low=0, low_open=True)
    tau_rc = FiniteNumberParam("tau_rc", low=0, low_open=True)
    tau_ref = FiniteNumberParam("tau_ref", low=0)
    amplitude = FiniteNumberParam("amplitude", low=0, low_open=True)
    noise = TrainingNoiseParam("noise", optional=True)
    hard_forward = BoolParam("hard_forward")
    loihi_dt = FiniteNumberParam("loihi_dt", low=0, low_open=True, optional=True)

    def __init__(
        self,
        sigma=0.02,
        tau_rc=0.02,
        tau_ref=0.002,
        amplitude=1.0,
        noise=None,
        initial_state=None,
        hard_forward=False,
        loihi_dt=None,
    ):
        super().__init__(
            tau_rc=tau_rc,
            tau_ref=tau_ref,
            amplitude=amplitude,
            initial_state=initial_state,
        )
        self.sigma = sigma
        self.noise = noise
        self.hard_forward = hard_forward
        if loihi_dt is not None and not hard_forward:
            raise ValueError(
                f"SoftLIFRate(loihi_dt={loihi_dt}) makes Loihi's LIF rate the hard "
                "forward pass: pass hard_forward=True too"
            )
        self.loihi_dt = loihi_dt

    def _forward(self, J):
        if self.loihi_dt is not None:
            return loihi_lif_rates(
                J, self.tau_rc, self.tau_ref, self.loihi_dt, self.amplitude
            )
        if self.hard_forward:
            return hard_lif_rates(J, self.tau_rc, self.tau_ref, self.amplitude)
        return soft_lif_rates(J, self.sigma, self.tau_rc, self.tau_ref, self.amplitude)

    def rates(self, x, gain, bias):
        """Soft LIF rates for inputs ``x`` (noise-free).

        Parameters
        ----------
        x : array_like
            Inputs (scaled by ``gain`` and shifted by ``bias``).
        gain, bias : array_like
            Neuron gains and biases.

        Returns
        -------
        ndarray
            ``amplitude`` times the soft LIF rate at ``J = gain * x + bias`` (the
            hard LIF rate with ``hard_forward``, Loihi's with ``loihi_dt``).
        """
        return self._forward(self.current(x, gain, bias))

    def step(self, dt, J, output):
        """Noise-free rates (soft, or hard with ``hard_forward``; no noise here)."""
        output[...] = self._forward(J)

    def derivative(self, x, gain, bias):
        """Derivative of :meth:`rates` with respect to ``x``.

        Parameters
        ----------
        x : array_like
            Input (as for :meth:`rates`).
        gain, bias : array_like
            Neuron gains and biases.

        Returns
        -------
        ndarray
            ``gain * d rate / dJ`` at ``J = gain * x + bias``; finite everywhere.
        """
        J = self.current(x, gain, bias)
        return np.asarray(gain) * soft_lif_derivative(
            J, self.sigma, self.tau_rc, self.tau_ref, self.amplitude
        )


class RectifiedLinear(nengo.RectifiedLinear):
    """`nengo.RectifiedLinear` with training noise (for the paper's ReLU baselines).

    Behaves exactly like `nengo.RectifiedLinear` everywhere but in nengo-dl
    training, where ``noise`` (e.g. dropout) acts on its output.

    Parameters
    ----------
    amplitude : float
        Output scale.
    noise : `.TrainingNoise` or None
        Training-only noise (rate noise acts where ``J > 0``).
    initial_state : dict, optional
    """

    amplitude = FiniteNumberParam("amplitude", low=0, low_open=True)
    noise = TrainingNoiseParam("noise", optional=True)

    def __init__(self, amplitude=1.0, noise=None, initial_state=None):
        super().__init__(amplitude=amplitude, initial_state=initial_state)
        self.noise = noise


def replace_params(neuron_type, **changes):
    """A copy of a neuron type with some parameters changed.

    Parameters
    ----------
    neuron_type : `nengo.neurons.NeuronType`
    **changes
        New values of its parameters (e.g. ``sigma=0.01``, ``noise=None``).
    """
    names = {p.name for p in neuron_type._params}  # noqa: SLF001
    unknown = sorted(set(changes) - names)
    if unknown:
        raise TypeError(f"{type(neuron_type).__name__} has no parameters {unknown}")
    params = {n: getattr(neuron_type, n) for n in names if n != "initial_state"}
    params.update(changes)
    return type(neuron_type)(**params)


@dataclasses.dataclass(frozen=True)
class LIFParams:
    """One setting of LIF parameters, shared by the rate and the spiking neuron.

    Parameters
    ----------
    tau_rc, tau_ref : float
        Time constants (s).
    amplitude : float
        Output scale.
    gain, bias : float
        Gain and bias given to every neuron of a layer that uses this setting.
    """

    tau_rc: float
    tau_ref: float
    amplitude: float
    gain: float
    bias: float

    def __post_init__(self):
        for name in ("tau_rc", "tau_ref", "amplitude", "gain", "bias"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(
                value, (int, float, np.number)
            ):
                raise TypeError(f"LIFParams {name} must be a number, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite (got {getattr(self, name)})")
        for name in ("tau_rc", "amplitude", "gain"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        if not self.tau_ref >= 0:
            raise ValueError(f"tau_ref must be >= 0 (got {self.tau_ref})")

    def _kwargs(self):
        return dict(tau_rc=self.tau_rc, tau_ref=self.tau_ref, amplitude=self.amplitude)

    def soft_lif(self, sigma=0.02, noise=None, hard_forward=False, loihi_dt=None):
        """The `.SoftLIFRate` for training."""
        return SoftLIFRate(
            sigma=sigma,
            noise=noise,
            hard_forward=hard_forward,
            loihi_dt=loihi_dt,
            **self._kwargs(),
        )

    def lif_rate(self):
        """The hard `nengo.LIFRate` (the mean rate of the spiking neuron)."""
        return nengo.LIFRate(**self._kwargs())

    def lif(self):
        """The spiking `nengo.LIF`."""
        return nengo.LIF(**self._kwargs())

    def ensemble_kwargs(self, n_neurons, neuron_type=None):
        """Keyword arguments giving an ensemble this gain, bias and neuron type.

        ``nengo.Ensemble(n, 1, **preset.ensemble_kwargs(n))`` is a layer of
        ``n`` neurons with the preset's gain and bias (and, by default, its soft
        LIF neuron); connect to ``ens.neurons``.
        """
        return {
            "neuron_type": self.soft_lif() if neuron_type is None else neuron_type,
            "gain": np.full(n_neurons, self.gain),
            "bias": np.full(n_neurons, self.bias),
        }


#: The paper's neuron settings (Hunsberger & Eliasmith 2015, 2016).
PRESETS = {
    "cifar10": LIFParams(
        tau_rc=0.05, tau_ref=0.001, amplitude=0.063, gain=0.825, bias=1.0
    ),
    "mnist": LIFParams(
        tau_rc=0.022, tau_ref=0.002, amplitude=0.063, gain=1.0, bias=1.0
    ),
}
