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
