"""Keras adapters of the merge layers: `.Add` and `.Concatenate` in `.keras_model`.

A merge is a Keras ``Add`` or ``Concatenate`` (the last axis) of its inputs'
tensors, followed by the network's neuron layer if it has ``neurons=True``
(whose bias is the merge's ``{name}.bias`` parameter).
"""

from nengo_softlif.keras.layers import tf
from nengo_softlif.keras.models import bias_variable, register_keras_layer
from nengo_softlif.network.merges import Add, Concatenate

__all__ = ["MergeAdapter"]


class MergeAdapter:
    """The Keras adapter of the merge layers (see `.register_keras_layer`)."""

    @staticmethod
    def build(spec, name, x, ctx):
        if isinstance(spec, Add):
            merged = tf.keras.layers.Add(name=name)(x)
        else:
            merged = tf.keras.layers.Concatenate(axis=-1, name=name)(x)
        return ctx.neurons(name)(merged) if spec.neurons else merged

    @staticmethod
    def to_keras(spec, name, params, model):
        if spec.neurons:
            bias = bias_variable(model, name)
            bias.assign(params[f"{name}.bias"].reshape(bias.shape))

    @staticmethod
    def from_keras(spec, name, model):
        if not spec.neurons:
            return {}
        return {f"{name}.bias": bias_variable(model, name).numpy().ravel()}


register_keras_layer(Add)(MergeAdapter)
register_keras_layer(Concatenate)(MergeAdapter)
