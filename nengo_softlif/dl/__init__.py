"""nengo-dl builders of this package (imported when ``nengo_dl`` is first imported).

``lif_rates``
    The LIF neurons' rates and the soft LIF gradient in TensorFlow.
``neuron_builders``
    `.SoftLIFRate`, `.RectifiedLinear` and the refractory ReLU in TensorFlow,
    with the training noise models (``TF_NOISE_IMPL``).
``transform_builders``
    The windowed sparse transforms (`.LocallyConnectedSparse`, `.AveragePoolSparse`).

Importing this package imports TensorFlow and nengo-dl.
"""

# neuron_builders first: it imports nengo-dl (whose import registers the
# builders) before lif_rates
from nengo_softlif.dl.neuron_builders import *  # noqa: F401,F403  # isort: skip
from nengo_softlif.dl.neuron_builders import __all__ as _neuron_all  # isort: skip
from nengo_softlif.dl.lif_rates import *  # noqa: F401,F403  # isort: skip
from nengo_softlif.dl.lif_rates import __all__ as _rates_all  # isort: skip
from nengo_softlif.dl.transform_builders import *  # noqa: F401,F403
from nengo_softlif.dl.transform_builders import __all__ as _transform_all

__all__ = list(_rates_all) + list(_neuron_all) + list(_transform_all)
