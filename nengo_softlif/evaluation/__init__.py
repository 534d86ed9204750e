"""Evaluation: run a network on test images, on any registered backend.

``runner``
    `.evaluate`, the read-out `.Protocol` and `.EvaluationResult`.
``backend``
    The backend interface (:func:`.register_backend`, :data:`.BACKENDS`) and the
    progress helper backends share.
``metrics``
    Error against read-out time, fan-out, synaptic events and energy.
``distributed``
    Sharded evaluation over processes or a Dask cluster.
"""

from nengo_softlif.evaluation.runner import (
    BACKENDS,
    EvaluationResult,
    Protocol,
    evaluate,
    register_backend,
)

__all__ = [
    "BACKENDS",
    "EvaluationResult",
    "Protocol",
    "evaluate",
    "register_backend",
]
