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

#: Gray 8x8 images, two classes: every kind of layer (the evaluation tests).
TINY_GRAY = Architecture(
    "tiny",
    (8, 8, 1),
    (
        Conv(4, 3, padding=1),
        AvgPool(2),
        LocallyConnected(4, 3, padding=1),
        Dense(16),
        Output(2),
    ),
)

#: The layers the Loihi conversion supports (no locally-connected layer).
TINY_LOIHI = Architecture(
    "tiny", (8, 8, 1), (Conv(4, 3, padding=1), AvgPool(2), Dense(32), Output(3))
)
