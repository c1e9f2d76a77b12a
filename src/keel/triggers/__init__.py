"""Triggers: webhook verification and parsing, schedule specs."""
