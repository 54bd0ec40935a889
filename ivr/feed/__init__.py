"""The staff feed: what school staff read about reported absences.

The page ``/staff``, the JSON API under ``/api/v1``, an Atom feed and a CSV export, all
behind staff tokens scoped to schools; acknowledging and cancelling reports (the use cases
themselves are in ``ivr.services``).
"""
