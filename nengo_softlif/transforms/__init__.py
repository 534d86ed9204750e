"""Transforms: windowed sparse connections and transforms as weight matrices.

``sparse``
    `.LocallyConnectedSparse` and `.AveragePoolSparse`: nengo transforms that
    store only the weights inside each output's window.
``matrix``
    Any nengo connection's transform as a (sparse) weight matrix, the one helper
    the fast backend, the Loihi resource count and checkpoints share.
"""

from nengo_softlif.transforms.sparse import (
    AveragePoolSparse,
    LocallyConnectedSparse,
    WindowedSparse,
    WindowedSparseInc,
    build_windowed_sparse,
    conv_output_size,
    window_indices,
)

__all__ = [
    "AveragePoolSparse",
    "LocallyConnectedSparse",
    "WindowedSparse",
    "WindowedSparseInc",
    "build_windowed_sparse",
    "conv_output_size",
    "window_indices",
]
