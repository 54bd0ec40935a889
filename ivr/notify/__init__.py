"""Confirmations: who is told of a report, what they are told, and (later) sending it."""
