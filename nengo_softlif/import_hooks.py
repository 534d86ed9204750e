"""Run a function when a module is first imported (a post-import hook).

This is how the optional backends register themselves: ``import nengo_softlif``
imports neither TensorFlow nor nengo-loihi, yet the moment anyone imports
``nengo_dl`` (before or after ``nengo_softlif``), the nengo-dl builders of this
package are registered with it.
"""

import importlib.abc
import importlib.util
import sys
import threading

__all__ = ["when_imported", "is_importing"]

_HOOKS = {}
_LOCK = threading.RLock()


def when_imported(module_name, hook):
    """Call ``hook(module)`` once ``module_name`` has been imported.

    If the module is already imported, the hook runs now. Hooks must be
    idempotent: each runs at most once per registration, in registration order.

    Parameters
    ----------
    module_name : str
        Full name of the module, e.g. ``"nengo_dl"``.
    hook : callable
        Called with the imported module.
    """
    with _LOCK:
        module = sys.modules.get(module_name)
        if module is None or _is_initializing(module):
            _HOOKS.setdefault(module_name, []).append(hook)
            _install_finder()
            return
    hook(module)


def is_importing(module_name):
    """Whether ``module_name`` is being imported right now (not yet finished)."""
    module = sys.modules.get(module_name)
    return module is not None and _is_initializing(module)


def _is_initializing(module):
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _run_hooks(module_name):
    with _LOCK:
        hooks = _HOOKS.pop(module_name, [])
    for hook in hooks:
        hook(sys.modules[module_name])


class _HookedLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _run_hooks(module.__name__)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self._busy = set()

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _HOOKS or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _HookedLoader(spec.loader)
        return spec


def _install_finder():
    if not any(isinstance(f, _PostImportFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())
