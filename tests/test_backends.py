"""One spiking network on every evaluation backend: the same answers.

Uses the ``backend`` fixture (tests/conftest.py), so each test runs once per
installed backend, against nengo's reference simulator.
"""

import nengo
import numpy as np
import pytest

from nengo_softlif import PRESETS, Protocol, build_network, evaluate, to_spiking
from nengo_softlif.evaluation.backend import get_backend

from architectures import TINY_DENSE

PROTOCOL = Protocol(presentation_time=0.15, t_start=0.05, t_end=0.15)

#: Read-outs may differ from the reference's by this much, relative to its
#: largest read-out: float32 simulators (nengo-dl, fast) move a spike by a step
#: now and then; the Loihi emulator quantises weights and voltages.
TOLERANCE = {"nengo": 0.0, "nengo-dl": 0.05, "fast": 0.05, "loihi": 0.25}


@pytest.fixture(scope="module")
def spiking_net():
    preset = PRESETS["mnist"]
    rate = build_network(TINY_DENSE, preset.soft_lif(sigma=0.02), preset, seed=1)
    return to_spiking(rate, synapse=nengo.Alpha(0.005))


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return rng.uniform(0, 1, size=(4, *TINY_DENSE.input_shape)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(spiking_net, images):
    return evaluate(spiking_net, images, [0, 1, 2, 0], PROTOCOL, backend="nengo")


def test_every_backend_gives_the_reference_answers(
    backend, spiking_net, images, reference
):
    if backend == "loihi":
        pytest.importorskip("nengo_loihi")
    result = evaluate(spiking_net, images, [0, 1, 2, 0], PROTOCOL, backend=backend)
    assert min(reference.layer_rates.values()) > 1, "the test network should spike"
    scale = np.abs(reference.outputs).max()
    assert np.max(np.abs(result.outputs - reference.outputs)) <= (
        TOLERANCE[backend] * scale + 1e-12
    )
    for name, rate in reference.layer_rates.items():
        assert result.layer_rates[name] == pytest.approx(
            rate, rel=max(TOLERANCE[backend], 1e-9)
        ), name
    assert result.n_images == 4 and result.backend == backend


def test_every_backend_refuses_unknown_options(backend, spiking_net, images):
    if backend == "loihi":
        pytest.importorskip("nengo_loihi")
    with pytest.raises(TypeError, match="no_such_option"):
        get_backend(backend)(
            spiking_net, images.reshape(4, -1), PROTOCOL, {}, no_such_option=1
        )
