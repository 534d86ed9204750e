"""Keras layers for the package's rate neurons and its locally-connected layer.

The neuron layers compute ``J = gain * x + bias`` (a trainable bias per neuron, as
the package's ensembles have), the neurons' rates with the same TensorFlow
functions as the nengo-dl builders (:mod:`nengo_softlif.dl.lif_rates`), the training noise
of the neuron type (only when ``training=True``; straight-through, as in the
builders) and the amplitude. Noise is drawn with stateless random ops seeded by
the layer's seed and a step counter that is one of the layer's weights, so a model
restored from its weights draws the same noise as one that never stopped.

All layers are registered as Keras serialisables (package ``nengo_softlif``), so
models that use them save and load with ``model.save`` / ``tf.keras.models.load_model``.
"""

import numpy as np

from nengo_softlif.compat import import_nengo_dl

import_nengo_dl()  # the Keras import alias nengo-dl 3.6 needs; then TensorFlow
import tensorflow as tf  # noqa: E402

from nengo_softlif import dl  # noqa: E402
from nengo_softlif.dl.transform_builders import locally_connected_tf  # noqa: E402
from nengo_softlif.neurons.noise import parse_noise, to_spec  # noqa: E402
from nengo_softlif.neurons.softlif import PRESETS, SoftLIFRate  # noqa: E402

__all__ = ["RateNeurons", "SoftLIF", "RectifiedLinearRates", "LocallyConnected"]

_PACKAGE = "nengo_softlif"


def _finite(name, value, low=None, low_open=False):
    value = float(value)
    if not np.isfinite(value) or (
        low is not None and (value <= low if low_open else value < low)
    ):
        bound = "" if low is None else f" and {'>' if low_open else '>='} {low}"
        raise ValueError(f"{name} must be finite{bound}, got {value}")
    return value


class RateNeurons(tf.keras.layers.Layer):
    """Rate neurons with gain, a per-neuron bias, training noise and amplitude.

    Subclasses define :meth:`rates_hz` (clean rates before the amplitude) and
    ``threshold`` (training noise acts where ``J > threshold``).

    Parameters
    ----------
    amplitude : float
        Output scale.
    gain : float
        Multiplies the input: ``J = gain * x + bias``.
    bias : float or None
        Initial value of a trainable bias per neuron (None: no bias). The paper's
        neurons have gain and bias from their preset (e.g. 0.825 and 1 on
        CIFAR-10); :meth:`SoftLIF.from_preset` sets both.
    noise : str, `.TrainingNoise` or None
        Training noise (``"gaussian:10"``, ...); acts only with ``training=True``.
    seed : int
        Seed of the noise.
    """

    threshold = 1.0

    def __init__(
        self, amplitude=1.0, gain=1.0, bias=None, noise=None, seed=0, **kwargs
    ):
        super().__init__(**kwargs)
        self.amplitude = _finite("amplitude", amplitude, 0, low_open=True)
        self.gain = _finite("gain", gain)
        self.bias_init = None if bias is None else _finite("bias", bias)
        self.noise = parse_noise(noise) if isinstance(noise, str) else noise
        self.seed = int(seed)
        if not 0 <= self.seed < 2**31:
            raise ValueError(f"seed must be in [0, 2**31), got {seed}")

    def build(self, input_shape):
        shape = tuple(int(d) for d in input_shape[1:])
        self.bias = (
            None
            if self.bias_init is None
            else self.add_weight(
                name="bias",
                shape=shape,
                initializer=tf.keras.initializers.Constant(self.bias_init),
            )
        )
        self.noise_step = self.add_weight(
            name="noise_step",
            shape=(),
            dtype=tf.int64,
            initializer="zeros",
            trainable=False,
        )
        rng = np.random.RandomState(self.seed)
        self.noise_impls = (
            []
            if self.noise is None
            else dl.build_noise(
                [self.noise], [int(np.prod(shape))], tf.as_dtype(self.dtype), rng
            )
        )
        for impl in self.noise_impls:
            impl.stateless_seed = self._stateless_seed
        super().build(input_shape)

    def _stateless_seed(self, op_seed):
        return tf.stack([tf.constant(op_seed, tf.int64), self._step])

    def rates_hz(self, J):
        """Clean rates (Hz, before the amplitude) for currents ``J``."""
        raise NotImplementedError("Subclasses must implement `rates_hz`")

    def call(self, inputs, training=None):
        J = self.gain * inputs if self.gain != 1 else inputs
        if self.bias is not None:
            J = J + self.bias
        rates = self.rates_hz(J)
        if self.noise_impls and training:
            self._step = tf.convert_to_tensor(self.noise_step.assign_add(1))
            flat = (-1, int(np.prod(J.shape[1:])))
            noisy = dl.apply_noise(
                self.noise_impls,
                tf.reshape(J, flat),
                tf.reshape(rates, flat),
                self.threshold,
            )
            rates = tf.reshape(noisy, tf.shape(rates))
        return rates * self.amplitude

    def get_config(self):
        config = super().get_config()
        config.update(
            amplitude=self.amplitude,
            gain=self.gain,
            bias=self.bias_init,
            noise=to_spec(self.noise),
            seed=self.seed,
        )
        return config


HARD_FORWARD_SIGMA = 0.1
"""`SoftLIF`'s default sigma with the hard forward pass (the gradient only)."""

SOFT_FORWARD_SIGMA = 0.02
"""`SoftLIF`'s default sigma with the soft forward pass (the papers')."""


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class SoftLIF(RateNeurons):
    """Soft LIF rate neurons (`.SoftLIFRate`) as a Keras layer.

    Parameters
    ----------
    sigma : float, optional
        Smoothing of the threshold. By default ``HARD_FORWARD_SIGMA`` (0.1) with
        the hard forward pass, where sigma only shapes the gradient: a wider
        soft threshold gives neurons just below it a gradient to return by, and
        the model learns faster; ``SOFT_FORWARD_SIGMA`` (0.02, the papers') with
        ``hard_forward=False``, where sigma is the forward pass too.
    tau_rc, tau_ref : float
        Membrane and refractory time constants (s).
    hard_forward : bool
        The hard LIF rate in the forward pass, the soft derivative (with
        ``sigma``) in the backward pass (see `.SoftLIFRate`); the default. The
        trained network then is the hard LIF rate network, which is what the
        spiking LIF neurons compute on average, and it learns about as fast as
        the same model with ReLU. ``hard_forward=False`` gives the soft LIF rate
        in both passes (the papers' neurons, and this layer's earlier default;
        pair it with `.SigmaAnnealing`).
    loihi_dt : float, optional
        With ``hard_forward``: Loihi's LIF rate at this time step (s) in the
        forward pass instead of the LIF rate (see `.SoftLIFRate`).
    amplitude, gain, bias, noise, seed
        See `.RateNeurons`.

    Notes
    -----
    The layer's non-trainable ``sigma_scale`` weight multiplies ``sigma`` (1
    unless sigma is annealed during training). Models saved with an earlier
    version keep the forward pass and the sigma they were saved with
    (``hard_forward`` and ``sigma`` are in the layer's config).

    Examples
    --------
    The paper's CIFAR-10 neurons with Gaussian training noise of 10 Hz, after a
    convolution without bias (the layer holds a bias per neuron):

    >>> x = tf.keras.layers.Conv2D(64, 5, padding="same", use_bias=False)(inputs)
    >>> x = SoftLIF.from_preset("cifar10", noise="gaussian:10")(x)
    """

    def __init__(
        self,
        sigma=None,
        tau_rc=0.02,
        tau_ref=0.002,
        hard_forward=True,
        loihi_dt=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if sigma is None:
            sigma = HARD_FORWARD_SIGMA if hard_forward else SOFT_FORWARD_SIGMA
        self.sigma = _finite("sigma", sigma, 0, low_open=True)
        self.tau_rc = _finite("tau_rc", tau_rc, 0, low_open=True)
        self.tau_ref = _finite("tau_ref", tau_ref, 0)
        self.hard_forward = bool(hard_forward)
        self.loihi_dt = (
            None if loihi_dt is None else _finite("loihi_dt", loihi_dt, 0, True)
        )
        if self.loihi_dt is not None and not self.hard_forward:
            raise ValueError(
                f"SoftLIF(loihi_dt={loihi_dt}) makes Loihi's LIF rate the hard "
                "forward pass: keep hard_forward=True"
            )

    @classmethod
    def from_preset(cls, preset, sigma=None, noise=None, **kwargs):
        """A layer with a neuron preset's constants, gain and initial bias.

        Parameters
        ----------
        preset : str or `.LIFParams`
            ``"mnist"``, ``"cifar10"`` (:data:`nengo_softlif.PRESETS`) or one's own.
        sigma, noise
            As for the layer.
        **kwargs
            Other layer arguments (``name``, ``seed``, ...), or one of the
            preset's constants to override (``amplitude``, ``gain``, ``bias``,
            ``tau_rc``, ``tau_ref``).
        """
        if isinstance(preset, str):
            if preset not in PRESETS:
                raise ValueError(
                    f"Unknown neuron preset {preset!r}; choose one of {sorted(PRESETS)}"
                )
            preset = PRESETS[preset]
        constants = {
            "tau_rc": preset.tau_rc,
            "tau_ref": preset.tau_ref,
            "amplitude": preset.amplitude,
            "gain": preset.gain,
            "bias": preset.bias,
        }
        return cls(sigma=sigma, noise=noise, **{**constants, **kwargs})

    def build(self, input_shape):
        self.sigma_scale = self.add_weight(
            name="sigma_scale", shape=(), initializer="ones", trainable=False
        )
        self._loihi = dl.loihi_forward_constants([self], [1])
        super().build(input_shape)

    def nengo_neuron_type(self, noise):
        """The `.SoftLIFRate` this layer computes, with training noise ``noise``.

        Its sigma is the layer's times the current ``sigma_scale`` (1 before
        the layer is built).
        """
        scale = float(self.sigma_scale.numpy()) if self.built else 1.0
        return SoftLIFRate(
            sigma=self.sigma * scale,
            tau_rc=self.tau_rc,
            tau_ref=self.tau_ref,
            amplitude=self.amplitude,
            noise=noise,
            hard_forward=self.hard_forward,
            loihi_dt=self.loihi_dt,
        )

    def rates_hz(self, J):
        sigma = self.sigma * self.sigma_scale
        if self.hard_forward:
            return dl.surrogate_lif_rates_tf(
                J, sigma, self.tau_rc, self.tau_ref, loihi=self._loihi
            )
        return dl.soft_lif_rates_tf(J, sigma, self.tau_rc, self.tau_ref)

    def get_config(self):
        config = super().get_config()
        config.update(
            sigma=self.sigma,
            tau_rc=self.tau_rc,
            tau_ref=self.tau_ref,
            hard_forward=self.hard_forward,
            loihi_dt=self.loihi_dt,
        )
        return config


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class RectifiedLinearRates(RateNeurons):
    """`nengo_softlif.RectifiedLinear` (ReLU with training noise) as a Keras layer."""

    threshold = 0.0

    def rates_hz(self, J):
        return tf.nn.relu(J)


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class LocallyConnected(tf.keras.layers.Layer):
    """A locally-connected layer (unshared convolution) with zero padding.

    The same computation as the package's nengo-dl builder of
    `.LocallyConnectedSparse` (image patches times per-pixel filters), without a
    bias (the neuron layer after it holds one per neuron).

    Parameters
    ----------
    filters : int
        Output channels.
    kernel : int
        Window side.
    stride : int
        Window step.
    padding : int
        Zero padding on each side, in pixels.
    kernel_initializer : str or initializer
        Initial per-pixel filters, shape ``(out_pixels, kernel*kernel*channels,
        filters)``.
    """

    def __init__(
        self,
        filters,
        kernel,
        stride=1,
        padding=0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel)
        self.stride, self.padding = int(stride), int(padding)
        if min(self.filters, self.kernel_size, self.stride) < 1 or self.padding < 0:
            raise ValueError(
                "filters, kernel and stride must be >= 1 and padding >= 0, got "
                f"{filters}, {kernel}, {stride}, {padding}"
            )
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)

    def _out_size(self, size):
        return (size + 2 * self.padding - self.kernel_size) // self.stride + 1

    def build(self, input_shape):
        height, width, channels = (int(d) for d in input_shape[1:])
        self.out_shape = (self._out_size(height), self._out_size(width), self.filters)
        if min(self.out_shape[:2]) < 1:
            raise ValueError(
                f"A {self.kernel_size}x{self.kernel_size} window with padding "
                f"{self.padding} does not fit an image of {height}x{width}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(
                self.out_shape[0] * self.out_shape[1],
                self.kernel_size**2 * channels,
                self.filters,
            ),
            initializer=self.kernel_initializer,
        )
        super().build(input_shape)

    def call(self, inputs):
        y = locally_connected_tf(
            inputs, self.kernel, self.kernel_size, self.stride, self.padding
        )
        return tf.reshape(y, (-1,) + self.out_shape)

    def compute_output_shape(self, input_shape):
        height, width = (self._out_size(int(d)) for d in input_shape[1:3])
        return (input_shape[0], height, width, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            kernel_initializer=tf.keras.initializers.serialize(self.kernel_initializer),
        )
        return config
