"""Local stand-ins for the providers, for trying the line and for its tests (needs the
``test`` extra: ``pip install -e .[test]``)."""
