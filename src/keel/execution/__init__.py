"""Executors that run one action call: in-process or on Ray, behind one protocol."""
