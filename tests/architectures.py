"""Small architectures shared by the tests (import as ``from architectures import``)."""

from nengo_softlif.network.architectures import Architecture
from nengo_softlif.network.layers import AvgPool, Conv, Dense, LocallyConnected, Output

#: Every kind of spiking layer, on 8x8x2 images: 268 neurons, 3 classes.
TINY = Architecture(
    "tiny",
    (8, 8, 2),
    (
        Conv(4, 3, padding=1),
        AvgPool(2),
        LocallyConnected(3, 3, padding=1),
        Dense(16),
        Output(3),
    ),
)

#: Dense layers only (every backend runs it), on 6x6x1 images: 3 classes.
TINY_DENSE = Architecture("tiny-dense", (6, 6, 1), (Dense(24), Dense(16), Output(3)))
