"""Small architectures shared by the tests (import as ``from architectures import``)."""

from nengo_softlif.layers import AvgPool, Conv, Dense, LocallyConnected, Output
from nengo_softlif.networks import Architecture

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
