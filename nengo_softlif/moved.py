"""Import paths of modules that moved, kept working.

The package is laid out by stage (``neurons``, ``network``, ``training``,
``evaluation``, ``backends``, ``experiments``). Modules that used to sit at the
top level are still importable under their old names: ``import
nengo_softlif.evaluate_fast`` gives the package now at
``nengo_softlif.backends.fast`` (the same module object, so an attribute set
through either name is set on both), with a `DeprecationWarning` naming the new
path. A moved module does not replace a name of the package it is imported
under: after ``import nengo_softlif.evaluate`` (the old name of
``nengo_softlif.evaluation.runner``), ``nengo_softlif.evaluate`` is still the
function.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

__all__ = ["MOVED", "new_name", "install"]

#: Old module name -> new module name (submodules of a moved package follow it).
MOVED = {
    "nengo_softlif.refractory_relu": "nengo_softlif.neurons.refractory_relu",
    "nengo_softlif.noise": "nengo_softlif.neurons.noise",
    "nengo_softlif.local": "nengo_softlif.transforms.sparse",
    "nengo_softlif.dl_local": "nengo_softlif.dl.transform_builders",
    "nengo_softlif.layers": "nengo_softlif.network.layers",
    "nengo_softlif.networks": "nengo_softlif.network.architectures",
    "nengo_softlif.convert": "nengo_softlif.network.convert",
    "nengo_softlif.checkpoint": "nengo_softlif.network.checkpoint",
    "nengo_softlif.train": "nengo_softlif.training.loop",
    "nengo_softlif.anneal": "nengo_softlif.training.anneal",
    "nengo_softlif.recipes": "nengo_softlif.training.recipes",
    "nengo_softlif.evaluate": "nengo_softlif.evaluation.runner",
    "nengo_softlif.distributed": "nengo_softlif.evaluation.distributed",
    "nengo_softlif.evaluate_dl": "nengo_softlif.backends.nengo_dl",
    "nengo_softlif.evaluate_fast": "nengo_softlif.backends.fast",
    "nengo_softlif.loihi_emulator": "nengo_softlif.backends.loihi.emulator",
    "nengo_softlif.loihi": "nengo_softlif.backends.loihi",
    "nengo_softlif.tasks": "nengo_softlif.experiments.tasks",
    "nengo_softlif.experiment": "nengo_softlif.experiments.experiment",
    "nengo_softlif.reproduce": "nengo_softlif.experiments.reproduce",
    "nengo_softlif.plots": "nengo_softlif.experiments.plots",
    "nengo_softlif.cli": "nengo_softlif.experiments.cli",
    "nengo_softlif.lazy": "nengo_softlif.import_hooks",
}


def new_name(name):
    """The current name of module ``name`` (``name`` itself if it did not move)."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve a moved module under its old name (the same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        if new_name(fullname) == fullname:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = new_name(spec.name)
        warnings.warn(
            f"{spec.name} moved to {new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        spec.loader_state = module.__spec__  # the import system overwrites it next
        return module

    def exec_module(self, module):
        # the module ran under its new name; give it back its own spec
        module.__spec__ = module.__spec__.loader_state


class _Package(types.ModuleType):
    """A package whose names are not replaced by moved modules imported under it.

    The import system sets a submodule as an attribute of its parent once it is
    imported; for a moved module whose old name is also one of the package's
    functions, that would replace the function by the module.
    """

    def __setattr__(self, name, value):
        current = self.__dict__.get(name)
        if (
            isinstance(value, types.ModuleType)
            and current is not None
            and not isinstance(current, types.ModuleType)
            and f"{self.__name__}.{name}" in MOVED
        ):
            return
        super().__setattr__(name, value)


def install(package="nengo_softlif"):
    """Put the finder in place and guard ``package``'s names (idempotent)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
    module = sys.modules.get(package)
    if module is not None and type(module) is types.ModuleType:
        module.__class__ = _Package
