"""tf.keras side of nengo-softlif: neuron layers, models of the package's networks.

Importing this subpackage imports TensorFlow (``import nengo_softlif`` alone never
does).

- :mod:`nengo_softlif.keras.layers`: `.SoftLIF` (soft LIF rates with gain, bias and
  training noise), `.RectifiedLinearRates`, `.LocallyConnected`.
- :mod:`nengo_softlif.keras.models`: :func:`.keras_model` (a package network as a
  Keras model with the same parameters) and :func:`.keras_params` (back).
- :mod:`nengo_softlif.keras.network`: :func:`.from_keras` (a sequential Keras
  model as the package's network).
- :mod:`nengo_softlif.keras.rewrite`: :func:`.rewrite_model` (activations swapped
  for the package's neurons, batch normalization folded into the layer before).
- :mod:`nengo_softlif.keras.initializers`: :func:`.scale_initial_weights` (initial
  weights that suit SoftLIF layers, so that the model learns as fast as with
  ReLU).
"""

from nengo_softlif.keras import converters  # noqa: E402,F401  (nengo_dl.Converter)
from nengo_softlif.keras.callbacks import SigmaAnnealing
from nengo_softlif.keras.initializers import scale_initial_weights
from nengo_softlif.keras.layers import (
    LocallyConnected,
    RateNeurons,
    RectifiedLinearRates,
    SoftLIF,
)
from nengo_softlif.keras.models import (
    KERAS_LAYERS,
    KERAS_NEURONS,
    keras_model,
    keras_params,
    paper_model,
    register_keras_layer,
    register_keras_neurons,
    set_keras_params,
)
from nengo_softlif.keras.network import from_keras
from nengo_softlif.keras.rewrite import RewrittenModel, rewrite_model

__all__ = [
    "SigmaAnnealing",
    "SoftLIF",
    "RateNeurons",
    "RectifiedLinearRates",
    "LocallyConnected",
    "KERAS_LAYERS",
    "KERAS_NEURONS",
    "keras_model",
    "from_keras",
    "rewrite_model",
    "RewrittenModel",
    "scale_initial_weights",
    "keras_params",
    "paper_model",
    "set_keras_params",
    "register_keras_layer",
    "register_keras_neurons",
]
