"""Shared fixtures; TensorFlow's C++ logging is quietened before it is imported."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def rng():
    """A seeded numpy Generator."""
    return np.random.default_rng(0)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long runs, excluded from the default test run"
    )


def _available_backends():
    """Every evaluation backend whose packages are installed (nengo's always)."""
    import importlib.util  # noqa: PLC0415

    names = ["nengo"]
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("nengo_dl"):
        names.append("nengo-dl")
    names.append("fast")
    if importlib.util.find_spec("nengo_loihi"):
        names.append("loihi")
    return names


@pytest.fixture(params=_available_backends())
def backend(request):
    """The name of one evaluation backend; a test using it runs on every one.

    As nengo's ``Simulator`` fixture: a test written once checks every simulator
    a converted network can run on (``nengo``, ``nengo-dl``, ``fast`` and, if
    nengo-loihi is installed, ``loihi``).
    """
    return request.param
