"""pytest plugin: every nengo-loihi emulator a test builds delivers spikes with
:func:`nengo_softlif.backends.loihi.emulator.vectorize_spike_delivery`.

Used by ``.ci/peer-nengo-loihi`` to run nengo-loihi's own test suite against the
package's replacement of its spike delivery.
"""

import pytest
from nengo_loihi.emulator import interface

from nengo_softlif.backends.loihi.emulator import vectorize_spike_delivery

COUNTS = {"vectorized": 0, "left alone": 0}
_original_init = interface.EmulatorInterface.__init__


def _init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    COUNTS["vectorized" if vectorize_spike_delivery(self) else "left alone"] += 1


interface.EmulatorInterface.__init__ = _init


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"nengo-softlif spike delivery: {COUNTS['vectorized']} emulators vectorized, "
        f"{COUNTS['left alone']} left alone"
    )
