"""nengo-dl (TensorFlow) builders for the soft LIF neuron and the training noise.

Importing this module imports TensorFlow and nengo-dl. Users never need to: the
builders are registered automatically the first time ``nengo_dl`` is imported
after ``import nengo_softlif`` (see :mod:`nengo_softlif.import_hooks`).

Registries
----------
``nengo_dl.neuron_builders.SimNeuronsBuilder.TF_NEURON_IMPL``
    gets `.SoftLIFRate` -> :class:`SoftLIFRateBuilder`.
:data:`TF_NOISE_IMPL`
    maps each `.TrainingNoise` type to its TensorFlow implementation.
"""

import types
import weakref

import numpy as np

from nengo_softlif.compat import import_nengo_dl
from nengo_softlif.neurons.noise import (
    Dropout,
    GaussianNoise,
    RateGaussianNoise,
    SpikeNoise,
    alpha_filtered_spike_std,
)
from nengo_softlif.neurons.refractory_relu import (
    RefractoryRectifiedLinear,
    SoftRefractoryRectifiedLinear,
)
from nengo_softlif.neurons.softlif import RectifiedLinear, SoftLIFRate

nengo_dl = import_nengo_dl()
import tensorflow as tf  # noqa: E402  (nengo-dl must be imported first: aliases)
from nengo_dl.neuron_builders import (  # noqa: E402
    LIFRateBuilder,
    SimNeuronsBuilder,
    TFNeuronBuilder,
)
from nengo_dl.neuron_builders import (  # noqa: E402
    RectifiedLinearBuilder as _ReLUBuilder,
)
from tensorflow.python.framework import smart_cond  # noqa: E402

from nengo_softlif.dl.lif_rates import (  # noqa: E402
    loihi_forward_constants,
    soft_lif_rates_tf,
    surrogate_lif_rates_tf,
)

__all__ = [
    "sigma_scale",
    "simulator_sigma_scale",
    "TrainingNoiseMixin",
    "SoftLIFRateBuilder",
    "RectifiedLinearBuilder",
    "RefractoryRectifiedLinearBuilder",
    "TFNoise",
    "GaussianNoiseTF",
    "DropoutTF",
    "SpikeNoiseTF",
    "RateGaussianNoiseTF",
    "TF_NOISE_IMPL",
    "build_noise",
    "apply_noise",
    "register",
]

#: id(SignalDict) -> (weak reference to it, its sigma scale variable)
_SCALES = {}


def sigma_scale(signals):
    """The multiplier of every smoothed neuron's sigma in one nengo-dl simulator.

    Each simulator (each `nengo_dl.signals.SignalDict`) has its own scale,
    created when its first smoothed neuron group is built; it is 1 unless
    :class:`nengo_softlif.training.anneal.SigmaAnnealing` anneals sigma while that
    simulator trains, so annealing never changes another simulator.

    Parameters
    ----------
    signals : `nengo_dl.signals.SignalDict`
        The simulator's signals (``sim.tensor_graph.signals``).

    Returns
    -------
    tf.Variable
        A non-trainable scalar.
    """
    key = id(signals)
    entry = _SCALES.get(key)
    if entry is None or entry[0]() is not signals:
        with tf.init_scope():  # a variable of its own, outside any traced function
            scale = tf.Variable(1.0, trainable=False, name="nengo_softlif_sigma_scale")
        ref = weakref.ref(signals, lambda _: _SCALES.pop(key, None))
        _SCALES[key] = entry = (ref, scale)
    return entry[1]


def simulator_sigma_scale(sim):
    """:func:`sigma_scale` of a `nengo_dl.Simulator`."""
    return sigma_scale(sim.tensor_graph.signals)


class TFNoise:
    """TensorFlow side of a training-noise model, for a merged group of ops.

    Parameters
    ----------
    noises : list of `.TrainingNoise` or None
        One entry per op: that op's noise component of this type, or None where
        the op has none (the implementation must then leave it unchanged).
    sizes : list of int
        Number of neurons of each op.
    dtype : tf.DType
        Signal dtype.
    rng : `numpy.random.RandomState`
        For the op-level random seed.
    """

    straight_through = True

    def __init__(self, noises, sizes, dtype, rng):
        self.dtype = dtype
        self.seed = rng.randint(np.iinfo(np.int32).max)
        self.noises = noises
        self.sizes = sizes
        #: ``seed -> (2,) int tensor`` for stateless draws (set by a caller that
        #: needs reproducible noise, such as the Keras layers); None: op seeds.
        self.stateless_seed = None

    def normal(self, shape):
        """Standard normal samples (op-seeded, or stateless when a seed is set)."""
        if self.stateless_seed is None:
            return tf.random.normal(shape, dtype=self.dtype, seed=self.seed)
        return tf.random.stateless_normal(
            shape, seed=self.stateless_seed(self.seed), dtype=self.dtype
        )

    def uniform(self, shape):
        """Uniform [0, 1) samples (op-seeded, or stateless when a seed is set)."""
        if self.stateless_seed is None:
            return tf.random.uniform(shape, dtype=self.dtype, seed=self.seed)
        return tf.random.stateless_uniform(
            shape, seed=self.stateless_seed(self.seed), dtype=self.dtype
        )

    @property
    def mask(self):
        """(1, n) boolean constant: True for the neurons of ops with this noise."""
        vals = np.concatenate(
            [
                np.full(size, noise is not None)
                for noise, size in zip(self.noises, self.sizes, strict=True)
            ]
        )
        return tf.constant(vals[None, :])

    def constant(self, attr, missing):
        """Per-neuron (1, n) constant of ``attr``, with ``missing`` for ops without."""
        holders = [
            types.SimpleNamespace(value=missing if n is None else getattr(n, attr))
            for n in self.noises
        ]
        vals = np.concatenate(
            [
                np.full(size, h.value, dtype=float)
                for h, size in zip(holders, self.sizes, strict=True)
            ]
        )
        if np.all(vals == vals[0]):
            return tf.constant(vals[0], dtype=self.dtype)
        return tf.constant(vals[None, :], dtype=self.dtype)

    def apply(self, rates, active):
        """Noisy rates (Hz, before amplitude) from clean ``rates`` where ``active``."""
        raise NotImplementedError("Subclasses must implement `apply`")


class GaussianNoiseTF(TFNoise):
    """``max(r + N(0, std), 0)`` where J > 1 (see `.GaussianNoise`)."""

    def __init__(self, noises, sizes, dtype, rng):
        super().__init__(noises, sizes, dtype, rng)
        self.std = self.constant("std", missing=0.0)

    def apply(self, rates, active):
        noise = self.normal(tf.shape(rates))
        noisy = tf.maximum(rates + noise * self.std, 0.0)
        return tf.where(active, noisy, rates)


class DropoutTF(TFNoise):
    """Inverted dropout (see `.Dropout`); the gradient flows through the mask."""

    straight_through = False

    def __init__(self, noises, sizes, dtype, rng):
        super().__init__(noises, sizes, dtype, rng)
        self.rate = self.constant("rate", missing=0.0)

    def apply(self, rates, active):
        u = self.uniform(tf.shape(rates))
        return tf.where(u >= self.rate, rates / (1.0 - self.rate), tf.zeros_like(rates))


def alpha_filtered_spike_value_tf(phase, rate, tau_s):
    """TensorFlow version of :func:`nengo_softlif.neurons.noise.alpha_filtered_spike_value`."""
    period = 1.0 / rate
    t = phase * period
    q = tf.exp(-period / tau_s)
    return tf.exp(-t / tau_s) / tau_s**2 * (t / (1 - q) + period * q / (1 - q) ** 2)


class SpikeNoiseTF(TFNoise):
    """The filtered spike train at a random phase (see `.SpikeNoise`)."""

    def __init__(self, noises, sizes, dtype, rng):
        super().__init__(noises, sizes, dtype, rng)
        self.tau_s = self.constant("tau_s", missing=1.0)
        self.enabled = self.mask

    def apply(self, rates, active):
        use = self.enabled & active & (rates > 0)
        safe = tf.where(use, rates, tf.ones_like(rates))
        phase = self.uniform(tf.shape(rates))
        value = alpha_filtered_spike_value_tf(phase, safe, self.tau_s)
        return tf.where(use, value, rates)


class RateGaussianNoiseTF(TFNoise):
    """Gaussian with the filtered spike train's rate-dependent spread."""

    #: Rates (Hz) of the interpolation table of the spread; above: last value.
    TABLE_MAX_RATE = 2000.0
    TABLE_SIZE = 4001

    def __init__(self, noises, sizes, dtype, rng):
        super().__init__(noises, sizes, dtype, rng)
        grid = np.linspace(0, self.TABLE_MAX_RATE, self.TABLE_SIZE)
        taus = sorted({n.tau_s for n in noises if n is not None})
        # one table per distinct tau_s, selected per neuron
        tables = np.stack([alpha_filtered_spike_std(grid, tau) for tau in taus])
        index = np.concatenate(
            [
                np.full(size, 0 if n is None else taus.index(n.tau_s))
                for n, size in zip(noises, sizes, strict=True)
            ]
        )
        self.table = tf.constant(tables, dtype=dtype)
        self.table_index = tf.constant(index[None, :], dtype=tf.int32)
        self.step = self.TABLE_MAX_RATE / (self.TABLE_SIZE - 1)
        self.scale = self.constant("scale", missing=0.0)

    def spread(self, rates):
        """Linear interpolation of the spread table at ``rates``."""
        position = tf.clip_by_value(rates / self.step, 0.0, self.TABLE_SIZE - 1.001)
        lower = tf.cast(tf.floor(position), tf.int32)
        frac = position - tf.cast(lower, self.dtype)
        index = tf.broadcast_to(self.table_index, tf.shape(lower))
        low = tf.gather_nd(self.table, tf.stack([index, lower], axis=-1))
        high = tf.gather_nd(self.table, tf.stack([index, lower + 1], axis=-1))
        return low + frac * (high - low)

    def apply(self, rates, active):
        noise = self.normal(tf.shape(rates))
        noisy = tf.maximum(rates + noise * self.scale * self.spread(rates), 0.0)
        return tf.where(active, noisy, rates)


#: Training-noise type -> TensorFlow implementation (extend to add noise models).
TF_NOISE_IMPL = {
    GaussianNoise: GaussianNoiseTF,
    Dropout: DropoutTF,
    SpikeNoise: SpikeNoiseTF,
    RateGaussianNoise: RateGaussianNoiseTF,
}


def build_noise(noises, sizes, dtype, rng):
    """The TensorFlow noise implementations for a group of neuron ops, in order.

    Each op's noise is split into its components; one implementation is built per
    component type, covering all ops (identity where an op lacks that type).

    Parameters
    ----------
    noises : list of `.TrainingNoise` or None
        The noise model of each op's neurons.
    sizes : list of int
        Number of neurons of each op.
    dtype : tf.DType
    rng : `numpy.random.RandomState`
        For the op-level seeds.
    """
    per_op = [() if noise is None else noise.components() for noise in noises]
    order = []
    for components in per_op:
        for component in components:
            if type(component) not in order:
                order.append(type(component))
    impls = []
    for noise_type in order:
        if noise_type not in TF_NOISE_IMPL:
            raise NotImplementedError(
                f"{noise_type.__name__} has no TensorFlow implementation; register "
                f"one in nengo_softlif.dl.neuron_builders.TF_NOISE_IMPL[{noise_type.__name__}]"
            )
        chosen = []
        for components in per_op:
            matches = [c for c in components if type(c) is noise_type]
            if len(matches) > 1:
                raise ValueError(
                    f"A neuron type has {noise_type.__name__} twice; combine them "
                    "into one noise model"
                )
            chosen.append(matches[0] if matches else None)
        impls.append(TF_NOISE_IMPL[noise_type](chosen, sizes, dtype, rng))
    return impls


def apply_noise(impls, J, rates, threshold):
    """Clean ``rates`` (Hz, before amplitude) with training-noise models applied.

    Noise acts where ``J > threshold``; straight-through models leave the
    gradient of the clean rates.

    Parameters
    ----------
    impls : sequence of `.TFNoise`
        As returned by :func:`build_noise`.
    J : tf.Tensor
        Input currents, the same shape as ``rates``.
    rates : tf.Tensor
        Noise-free rates.
    threshold : float or tf.Tensor
        The neurons' threshold current.
    """
    active = J > threshold
    for impl in impls:
        noisy = impl.apply(rates, active)
        rates = (
            rates + tf.stop_gradient(noisy - rates) if impl.straight_through else noisy
        )
    return rates


class TrainingNoiseMixin:
    """Adds the training noise of its neurons to a nengo-dl rate-neuron builder.

    The builder must define ``rates_hz(J)`` (noise-free rates before amplitude
    scaling) and ``threshold`` (noise acts where ``J > threshold``). In inference
    (``sim.predict``, ``sim.run``, evaluation) the output is the clean rate. While
    training (``sim.fit``, or nengo-dl's training phase) each op's noise models are
    applied to the rates before amplitude scaling; rate noise is straight-through
    (the backward pass sees the clean derivative).
    """

    def build_noise(self, signals, config):
        """Build the noise implementations (call from ``build_pre``)."""
        sizes = [op.J.shape[0] for op in self.ops]
        self.noise = (
            []
            if config.inference_only
            else build_noise(
                [op.neurons.noise for op in self.ops], sizes, signals.dtype, config.rng
            )
        )

    def noisy_rates_hz(self, J, rates):
        """Rates with every training-noise model applied."""
        return apply_noise(self.noise, J, rates, self.threshold)

    def step(self, J, dt):
        rates = self.rates_hz(J)
        return rates if self.amplitude is None else rates * self.amplitude

    def build_step(self, signals, **step_kwargs):
        J = signals.gather(self.J_data)
        rates = self.rates_hz(J)
        if self.noise:
            rates = smart_cond.smart_cond(
                self.config.training,
                true_fn=lambda: self.noisy_rates_hz(J, rates),
                false_fn=lambda: rates,
            )
        if self.amplitude is not None:
            rates = rates * self.amplitude
        signals.scatter(self.output_data, rates)


class SoftLIFRateBuilder(TrainingNoiseMixin, LIFRateBuilder):
    """Builds a merged group of `.SoftLIFRate` ops, with their training noise."""

    def build_pre(self, signals, config):
        super().build_pre(signals, config)
        neurons = [op.neurons for op in self.ops]
        sizes = [op.J.shape[0] for op in self.ops]
        self.sigma = signals.op_constant(neurons, sizes, "sigma", signals.dtype)
        hard = [n.hard_forward for n in neurons]
        # None: all soft; 1: all hard (the fast path); else a per-neuron mask
        self.hard = (
            None
            if not any(hard)
            else (
                1.0
                if all(hard)
                else signals.op_constant(neurons, sizes, "hard_forward", signals.dtype)
            )
        )
        self.loihi = loihi_forward_constants(neurons, sizes)
        self.threshold = self.one
        self.sigma_scale = sigma_scale(signals)
        self.build_noise(signals, config)

    def rates_hz(self, J):
        """Clean rates before amplitude scaling (soft, or hard-forward)."""
        sigma = self.sigma * tf.cast(self.sigma_scale, self.sigma.dtype)
        if self.hard is None:
            return soft_lif_rates_tf(J, sigma, self.tau_rc, self.tau_ref)
        return surrogate_lif_rates_tf(
            J, sigma, self.tau_rc, self.tau_ref, self.hard, self.loihi
        )


class RectifiedLinearBuilder(TrainingNoiseMixin, _ReLUBuilder):
    """Builds `nengo_softlif.RectifiedLinear` (ReLU with training noise)."""

    def build_pre(self, signals, config):
        super().build_pre(signals, config)
        self.threshold = tf.constant(0, dtype=signals.dtype)
        self.build_noise(signals, config)

    def rates_hz(self, J):
        """Clean ReLU output before amplitude scaling."""
        return tf.nn.relu(J)


class RefractoryRectifiedLinearBuilder(TrainingNoiseMixin, TFNeuronBuilder):
    """Builds `.RefractoryRectifiedLinear` and its soft version (with noise)."""

    def build_pre(self, signals, config):
        super().build_pre(signals, config)
        neurons = [op.neurons for op in self.ops]
        sizes = [op.J.shape[0] for op in self.ops]
        self.tau_ref = signals.op_constant(neurons, sizes, "tau_ref", signals.dtype)
        # nengo-dl merges neuron ops of one exact type only: all soft or all hard
        self.sigma = (
            signals.op_constant(neurons, sizes, "sigma", signals.dtype)
            if isinstance(neurons[0], SoftRefractoryRectifiedLinear)
            else None
        )
        self.threshold = tf.constant(0, dtype=signals.dtype)
        self.sigma_scale = sigma_scale(signals)
        self.build_noise(signals, config)

    def rates_hz(self, J):
        """Clean rates before amplitude scaling (soft if the neurons are)."""
        if self.sigma is None:
            current = tf.nn.relu(J)
        else:
            sigma = self.sigma * tf.cast(self.sigma_scale, self.sigma.dtype)
            current = sigma * tf.nn.softplus(J / sigma)
        return current / (self.tau_ref * current + 1.0)

    def build_noise(self, signals, config):
        """Hard neurons have no noise parameter: only soft groups get noise."""
        if self.sigma is None:
            self.noise = []
        else:
            super().build_noise(signals, config)


def register():
    """Register the builders with nengo-dl (idempotent)."""
    SimNeuronsBuilder.TF_NEURON_IMPL[SoftLIFRate] = SoftLIFRateBuilder
    SimNeuronsBuilder.TF_NEURON_IMPL[RectifiedLinear] = RectifiedLinearBuilder
    for neuron_type in (RefractoryRectifiedLinear, SoftRefractoryRectifiedLinear):
        SimNeuronsBuilder.TF_NEURON_IMPL[neuron_type] = RefractoryRectifiedLinearBuilder


register()
