"""Telephone absence line for schools."""

__version__ = "0.1.0"
