"""Experiments: tasks, single runs, settings x seeds sweeps."""
