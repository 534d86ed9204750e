"""Experiments: what ties data, network, training and evaluation together.

``tasks``
    The papers' tasks (data set, network, neurons, preprocessing, read-out) and
    ``folder``, a user's own image-folder tree.
``experiment``
    One run: train a task's network, convert it, evaluate it (`.run_experiment`).
``sweep``
    Settings x seeds sweeps of runs, resumable and checked on resume.
``reproduce``
    The papers' ladder of modifications as a table.
``published``
    The papers' published errors and firing rates.
``plots``
    The figures (the papers' Fig. 1 and 2, layer rates, error in time, training).
``report``
    A run's one-page report.
``run_folder``
    A run folder's results and checkpoint header, read and checked for a report.
``cli``, ``cli_parser``, ``cli_training``, ``cli_values``, ``cli_checks``
    The ``nengo-softlif`` command: what it runs, its parser, the options of
    ``train``, the checked value types, the checks across options.
"""
