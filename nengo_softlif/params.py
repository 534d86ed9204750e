"""Parameter descriptors: nengo's, with the checks this package relies on."""

import numpy as np
from nengo.exceptions import ValidationError
from nengo.params import NumberParam

__all__ = ["FiniteNumberParam", "SEED_LIMIT", "check_seed"]

#: Seeds are below this: the seeds derived from one (its network's, ``seed + i``
#: for the i-th layer of neurons) then stay valid 32-bit seeds.
SEED_LIMIT = 2**30


def check_seed(seed, name="seed"):
    """``seed`` as an int, or an error naming it if it is not a valid seed.

    Parameters
    ----------
    seed : int
    name : str
        How the caller names the value in the message (e.g. ``"--seed"``).

    Raises
    ------
    ValueError
        If ``seed`` is not a whole number in ``[0, SEED_LIMIT)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {seed!r}")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(
            f"{name} must be >= 0 and < {SEED_LIMIT} (2**30), got {seed}; "
            "choose a smaller seed"
        )
    return int(seed)


class FiniteNumberParam(NumberParam):
    """A `nengo.params.NumberParam` that also refuses NaN and infinity.

    nengo's own check compares the value with its bounds, which NaN passes
    silently (or fails with a TypeError); a neuron or noise parameter that is not
    a finite number is always a mistake here.
    """

    def coerce(self, instance, num):
        if num is not None:
            try:
                finite = bool(np.isfinite(num))
            except TypeError:
                finite = True  # not a number at all: nengo's own error says so
            if not finite:
                raise ValidationError(
                    f"{self.name} must be a finite number, got {num}",
                    attr=self.name,
                    obj=instance,
                )
        return super().coerce(instance, num)
