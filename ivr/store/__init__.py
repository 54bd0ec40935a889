"""Storage: SQLAlchemy models, sessions and the repositories where every query lives."""
