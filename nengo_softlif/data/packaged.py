"""Reading the small data sets shipped in ``nengo_softlif/datasets/``."""

import importlib.resources
import io

import numpy as np

from nengo_softlif.data.dataset import DataError

__all__ = ["read_packaged"]


def read_packaged(filename, keys, what):
    """Arrays ``keys`` of the package-data file ``nengo_softlif/datasets/filename``.

    Raises
    ------
    DataError
        If the file is missing or damaged (reinstall the package).
    """
    try:
        resource = importlib.resources.files("nengo_softlif.datasets").joinpath(
            filename
        )
        where = str(resource)
        payload = resource.read_bytes()
    except (OSError, ModuleNotFoundError) as e:
        raise DataError(
            f"the {what} nengo_softlif/datasets/{filename} could not be read "
            f"({type(e).__name__}: {e}); reinstall nengo_softlif (the file is "
            "package data and must be installed with it)"
        ) from e
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            return {key: z[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise DataError(
            f"the {what} {where} is damaged ({type(e).__name__}: {e}); reinstall "
            "nengo_softlif"
        ) from e
