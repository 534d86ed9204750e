"""The one registry type of the package.

Every registry (layer builders, evaluation backends, spiking and hard
equivalents, noise models, neuron types of checkpoints, Keras adapters, training
recipes, tasks) is a `Registry`: a dict that takes new entries through
:meth:`Registry.add` or the :meth:`Registry.register` decorator, warning when an
entry replaces a different one (as nengo's ``Builder.register`` does), so
extensions are additive and overwrites visible; looking up an unknown key
raises a `KeyError` that lists the known ones.
"""

import warnings

__all__ = ["Registry", "add"]


def _name(key):
    return getattr(key, "__name__", repr(key))


class Registry(dict):
    """A dict of named extensions.

    Parameters
    ----------
    what : str
        What it holds, for messages ("evaluation backend").
    """

    def __init__(self, what, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.what = what

    def add(self, key, value):
        """``self[key] = value``, warning if a different value was there.

        Returns
        -------
        object
            ``value`` (so decorators can return it).
        """
        old = self.get(key)
        if old is not None and old is not value and old != value:
            warnings.warn(f"Overwriting the {self.what} of {_name(key)}", stacklevel=3)
        self[key] = value
        return value

    def register(self, key):
        """Decorator: ``@REGISTRY.register(key)`` adds the decorated object."""

        def decorator(value):
            return self.add(key, value)

        return decorator

    def __missing__(self, key):
        known = sorted(_name(k) for k in self)
        raise KeyError(f"No {self.what} for {_name(key)}; known: {known}")

    def __repr__(self):
        return f"Registry({self.what!r}, {dict.__repr__(self)})"


def add(registry, key, value, what):
    """``registry[key] = value``, warning if a different value was there.

    Parameters
    ----------
    registry : Registry or dict
    key : hashable
    value : object
    what : str
        What the registry holds, for the warning (a `Registry` uses its own).

    Returns
    -------
    object
        ``value`` (so decorators can return it).
    """
    if isinstance(registry, Registry):
        return registry.add(key, value)
    old = registry.get(key)
    if old is not None and old is not value and old != value:
        warnings.warn(f"Overwriting the {what} of {_name(key)}", stacklevel=3)
    registry[key] = value
    return value
