"""The one way the package's registries take new entries.

Every registry (layers, backends, spiking equivalents, noise models, neuron
types, Keras adapters, training recipes) is a plain dict; :func:`add` puts an
entry in, warning when it replaces a different one (as nengo's
``Builder.register`` does), so extensions are additive and overwrites visible.
"""

import warnings

__all__ = ["add"]


def _name(key):
    return getattr(key, "__name__", repr(key))


def add(registry, key, value, what):
    """``registry[key] = value``, warning if a different value was there.

    Parameters
    ----------
    registry : dict
    key : hashable
    value : object
    what : str
        What the registry holds, for the warning ("layer builder").

    Returns
    -------
    object
        ``value`` (so decorators can return it).
    """
    old = registry.get(key)
    if old is not None and old is not value and old != value:
        warnings.warn(f"Overwriting the {what} of {_name(key)}", stacklevel=3)
    registry[key] = value
    return value
