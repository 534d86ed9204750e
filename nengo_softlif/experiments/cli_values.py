"""The value types of the ``nengo-softlif`` options, and their limits.

Each is an argparse ``type``: it parses one option's text and refuses a bad
value with a message that argparse prefixes with the option's name.
"""

import argparse
import math

__all__ = [
    "int_at_least",
    "finite",
    "anneal_end",
    "pool_relays_value",
    "l2_value",
    "POSITIVE",
    "NON_NEGATIVE",
    "SIGMA",
    "TIME_STEP",
    "MAX_DT",
    "MAX_STEPS_PER_IMAGE",
    "MAX_PRESENTATION_TIME",
    "MAX_IMAGE_SIZE",
    "MAX_SYNAPSE_TAU",
]


def int_at_least(low, most=None):
    """argparse type: an integer >= ``low`` (and <= ``most``); errors name the option."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        if most is not None and value > most:
            raise argparse.ArgumentTypeError(f"must be <= {most}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def finite(low=None, low_open=False, high=None, high_open=False):
    """argparse type: a finite number within the given bounds."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a number, got {text!r}"
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if low_open else '>='} {low}, got {value:g}"
            )
        if high is not None and (value >= high if high_open else value > high):
            raise argparse.ArgumentTypeError(
                f"must be {'<' if high_open else '<='} {high}, got {value:g}"
            )
        return value

    parse.__name__ = "number"
    return parse


#: Largest --presentation-time (s): every time step of every image is simulated
#: (60 s is 60000 steps per image; the paper's networks need 0.2 s).
MAX_PRESENTATION_TIME = 60.0
#: Longest time step (s) of a spiking evaluation: a tenth of a second.
MAX_DT = 0.1
#: Most time steps per image (--presentation-time / --dt): as many as the
#: longest presentation at the papers' 1 ms.
MAX_STEPS_PER_IMAGE = 60000
#: Largest --image-size: the network's layers grow with the image.
MAX_IMAGE_SIZE = 512
#: Largest --synapse-tau (s): longer ones smooth the output over several images.
MAX_SYNAPSE_TAU = 1.0

POSITIVE = int_at_least(1)
NON_NEGATIVE = int_at_least(0)


#: argparse type of the soft LIF smoothing: the paper's is 0.02; at 1 the rate
#: curve is already smooth over the whole range of the neurons' currents.
SIGMA = finite(0, low_open=True, high=1)

#: argparse type of a time step (s): ``--dt`` of evaluate and diagnose.
TIME_STEP = finite(0, low_open=True, high=MAX_DT)


def anneal_end(text):
    """argparse type of --anneal-sigma: a sigma > 0, or none."""
    if text.strip().lower() == "none":
        return "none"
    return SIGMA(text)


anneal_end.__name__ = "sigma or none"


def pool_relays_value(text):
    """``--pool-relays``: True (all), False (none), "auto", or a set of pool names."""
    text = text.strip()
    if text in ("all", "none"):
        return text == "all"
    if text == "auto":
        return "auto"
    names = {name.strip() for name in text.split(",") if name.strip()}
    if not names:
        raise argparse.ArgumentTypeError(
            "give all, none, auto or pool names separated by commas (e.g. pool1)"
        )
    return names


def l2_value(text):
    """``--l2``: one coefficient >= 0, or ``NAME=VALUE`` pairs separated by commas."""
    coefficient = finite(0)
    if "=" not in text:
        try:
            return coefficient(text)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(
                f"{error} (or layer=coefficient pairs separated by commas, e.g. "
                "local1=0.004,output=0.01)"
            ) from None
    values = {}
    for pair in text.split(","):
        name, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not name:
            raise argparse.ArgumentTypeError(
                f"give one coefficient (0.004) or layer=coefficient pairs separated "
                f"by commas (local1=0.004,output=0.01), got {text!r}"
            )
        try:
            values[name] = coefficient(value)
        except argparse.ArgumentTypeError as error:
            raise argparse.ArgumentTypeError(f"{name}: {error}") from None
    return values


l2_value.__name__ = "coefficient or layer=coefficient,..."
