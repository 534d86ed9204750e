"""Simulators a converted network runs on (see :mod:`nengo_softlif.evaluation.backend`).

``reference``
    nengo's reference simulator.
``nengo_dl``
    nengo-dl (many images in parallel, one per minibatch stream).
``fast``
    An event-driven simulator of the same dynamics (sparse matrix cores).
``loihi``
    nengo-loihi's emulator (or hardware), with the conversion to on-chip blocks.

Each backend registers itself under its name when imported; `.evaluate` imports
a backend the first time it is asked for.
"""
