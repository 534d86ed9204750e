"""Training: the training loop, sigma annealing and named recipes.

``config``
    `.TrainConfig`: the training settings, learning-rate schedules and engines.
``loop``
    `.train` (resumable, checkpointed).
``anneal``
    `.SigmaAnnealing`: lowers the soft LIF's sigma towards the hard LIF over training.
``recipes``
    Named sets of training settings (``paper``, ``fast``).
"""

from nengo_softlif.training.anneal import SigmaAnnealing
from nengo_softlif.training.config import LR_SCHEDULES, TRAINING_ENGINES, TrainConfig
from nengo_softlif.training.loop import ArrayData, TrainResult, train
from nengo_softlif.training.recipes import RECIPES, Recipe, get_recipe, register_recipe

__all__ = [
    "SigmaAnnealing",
    "RECIPES",
    "Recipe",
    "get_recipe",
    "register_recipe",
    "LR_SCHEDULES",
    "TRAINING_ENGINES",
    "ArrayData",
    "TrainConfig",
    "TrainResult",
    "train",
]
