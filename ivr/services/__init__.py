"""What happens when: each use case of the line as plain functions of a unit of work (a
session or connection in one transaction, which the caller owns and commits). Routes, the
command line and the dispatcher call these; queries stay in ``ivr.store``."""
