"""Keel's benchmarks: raw Temporal baselines and Keel scenarios on one dev server.

Run with ``make bench`` (``python -m bench``); never part of the pass/fail test run.
"""
