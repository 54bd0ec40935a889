"""Rosters: the CSV file operators import, checked row by row before anything is written."""
