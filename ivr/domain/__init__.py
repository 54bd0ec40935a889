"""The line's own terms, pure (no I/O): what an absence covers and the rules for it, the
pupils' identity numbers (Swedish and Norwegian), what a country decides, school days,
phone numbers, speech, and how long a call takes a caller."""
