"""Training recipes: named sets of training settings, for the CLI and
:func:`~nengo_softlif.experiments.reproduce.reproduce`.

A recipe fixes how a network is trained (engine, optimizer schedule, initial
weight scale, sigma annealing, the hard-forward mode), never the network, its
neuron constants or the data; the training noise stays the caller's (each row of
the paper's ladder has its own).

``default``
    What ``nengo-softlif train`` uses unless told otherwise: the papers'
    optimizer settings and sigma 0.02, with the hard LIF rate in the forward
    pass and the soft LIF's derivative in the backward pass, trained by the
    Keras engine. The trained (static) network is then the hard LIF rate
    network whose mean rates the spiking network has, at any budget
    (docs/results: "Choosing training options").
``paper``
    The papers' neuron settings as they trained them: sigma 0.02 throughout,
    Adam at 1e-3 with a cosine schedule, the nengo-dl engine.
``fast``
    Chosen on the CIFAR-10 proxy (docs/results/cifar10.md): the Keras engine, initial
    weights of the layers with neurons doubled, Adam at 3e-3 after a one-epoch
    warm-up, cosine decay, and sigma annealed from 0.02 to 0.002 over training
    (so that the trained soft network is the hard one that spikes).
``fast-hard``
    The ``fast`` recipe's optimizer settings with ``default``'s hard LIF
    forward pass instead of annealing.
``sgd-hard``
    ``fast-hard`` with SGD in place of Adam: Nesterov momentum 0.9 on
    normalized gradients (each parameter array's gradient divided by its root
    mean square), a step of 3e-4 per element after a one-epoch warm-up, cosine
    decay, decoupled weight decay 0.1. The recipe of the shipped CIFAR-10
    network (docs/results/cifar10.md).

New recipes are added with :func:`register_recipe`.
"""

import dataclasses

from nengo_softlif import registry
from nengo_softlif.training.loop import TrainConfig

__all__ = ["Recipe", "RECIPES", "register_recipe", "get_recipe"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Named training settings.

    Parameters
    ----------
    name : str
    description : str
    train : dict
        `.TrainConfig` fields that differ from its defaults.
    anneal_to : float or None
        Anneal every soft LIF's sigma to this value over training (None: no).
    hard_forward : bool
        Train soft LIF neurons with the hard LIF rate forward and the soft
        derivative backward (see `.SoftLIFRate`).
    """

    name: str
    description: str
    train: dict = dataclasses.field(default_factory=dict)
    anneal_to: float | None = None
    hard_forward: bool = False

    def __post_init__(self):
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(self.train) - fields)
        if unknown:
            raise ValueError(
                f"Recipe {self.name!r} sets unknown training settings {unknown}; "
                f"TrainConfig has {sorted(fields)}"
            )

    def experiment_changes(self):
        """The `.ExperimentConfig` fields this recipe sets (annealing, hard forward)."""
        return {"anneal_to": self.anneal_to, "hard_forward": self.hard_forward}

    def train_config(self, **changes):
        """The recipe's `.TrainConfig`, with ``changes`` (e.g. ``epochs``) applied."""
        return TrainConfig(**{**self.train, **changes})


#: Recipes by name.
RECIPES = registry.Registry("training recipe")


def register_recipe(recipe):
    """Add a `.Recipe` to :data:`RECIPES` (warns when it replaces one)."""
    return registry.add(RECIPES, recipe.name, recipe, "training recipe")


def get_recipe(name):
    """The recipe called ``name`` (a clear error listing the known ones)."""
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


register_recipe(
    Recipe(
        "default",
        "hard LIF forward, soft gradient; sigma 0.02; Adam 1e-3, cosine; Keras engine",
        train={"engine": "keras"},
        hard_forward=True,
    )
)
register_recipe(
    Recipe(
        "paper",
        "sigma 0.02 throughout; Adam 1e-3, cosine; nengo-dl engine",
    )
)
#: The optimizer settings of the ``fast`` recipes (chosen on the CIFAR-10 proxy).
_FAST_TRAIN = {
    "engine": "keras",
    "init_scale": 2.0,
    "learning_rate": 3e-3,
    "warmup_epochs": 1.0,
}
register_recipe(
    Recipe(
        "fast",
        "Keras engine; initial weights x2; Adam 3e-3 after a 1-epoch warm-up, "
        "cosine; sigma annealed 0.02 -> 0.002 per step",
        train=_FAST_TRAIN,
        anneal_to=0.002,
    )
)
register_recipe(
    Recipe(
        "fast-hard",
        "the fast recipe's optimizer (initial weights x2, Adam 3e-3 after a "
        "1-epoch warm-up, cosine; Keras engine) with hard LIF forward, soft "
        "gradient; no annealing",
        train=_FAST_TRAIN,
        hard_forward=True,
    )
)
register_recipe(
    Recipe(
        "sgd-hard",
        "fast-hard with SGD: Nesterov momentum on normalized gradients, 3e-4 per "
        "element after a 1-epoch warm-up, cosine; decoupled weight decay 0.1",
        train={
            **_FAST_TRAIN,
            "optimizer": "sgd",
            "nesterov": True,
            "normalize_gradients": True,
            "learning_rate": 3e-4,
            "weight_decay": 0.1,
        },
        hard_forward=True,
    )
)
