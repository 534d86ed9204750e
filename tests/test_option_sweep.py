"""Every numeric option of every command, given a bad value: a clear error, exit 2.

The values are what a user may type by mistake: negative, zero where a count is
needed, NaN, infinity, words. Each must end before any work with argparse's
error naming the option, and never with a traceback.
"""

import argparse
import math

import pytest

from nengo_softlif.experiments.cli import build_parser, main
from nengo_softlif.experiments.cli_values import pool_relays_value

BAD_VALUES = ["-1", "0", "nan", "inf", "-inf", "abc", "1e999"]


def _numeric_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases = []
    for command, subparser in sub.choices.items():
        for action in subparser._actions:
            if not action.option_strings or action.type is None:
                continue
            if action.type in (str, pool_relays_value):  # not numbers
                continue
            cases.append((command, action.option_strings[0], action.type))
    return cases


def _minimal(command):
    """The arguments that make ``command`` otherwise valid."""
    return {
        "train": ["--task", "mnist-sample", "--out", "/tmp/nsl-sweep-never-written"],
        "evaluate": ["--task", "mnist-sample", "--checkpoint", "/nonexistent.npz"],
        "diagnose": ["--task", "mnist-sample", "--checkpoint", "/nonexistent.npz"],
        "reproduce": ["mnist-sample"],
        "demo": ["--out", "/tmp/nsl-sweep-never-written"],
    }[command]


def _accepts(parse, value):
    try:
        parse(value)
    except (argparse.ArgumentTypeError, ValueError):
        return False
    return True


CASES = [
    (command, option, value)
    for command, option, parse in _numeric_options()
    for value in BAD_VALUES
    if not _accepts(parse, value)
]


def test_the_sweep_covers_every_numeric_option():
    options = {(c, o) for c, o, _ in CASES}
    assert len(options) == len(_numeric_options()) >= 20
    assert len(CASES) >= 100


@pytest.mark.parametrize("command, option, value", CASES)
def test_bad_value_is_a_clear_error(capsys, command, option, value):
    with pytest.raises(SystemExit) as exit_:
        main([command, *_minimal(command), option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"argument {option}" in err and "Traceback" not in err


@pytest.mark.parametrize("command, option, parse", _numeric_options())
def test_values_the_option_accepts_are_finite(command, option, parse):
    for value in BAD_VALUES:
        if _accepts(parse, value):
            parsed = parse(value)
            assert math.isfinite(parsed), (option, value)
