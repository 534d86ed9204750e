"""Parameter descriptors: nengo's, with the checks this package relies on."""

import numpy as np
from nengo.exceptions import ValidationError
from nengo.params import NumberParam

__all__ = ["FiniteNumberParam"]


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
