"""Storage: SQLAlchemy models, the database and its units of work, and the repositories
where every query lives.

How a query is run, and when to use which:

1. **ORM, in a ``Session``** (``Database.run``/``transaction``): the default. Staff pages,
   the API, the command line, the dispatcher, imports: anything that is not run by every
   webhook of every call.
2. **A Core statement on a ``Connection``** (``Database.run_core``): where an ORM session
   would cost more than the query, for the webhooks' rarer statements (the security
   report, a repeat's last answer).
3. **A driver statement** (``ivr.store.driver.DriverStatement``): only for a statement that
   a webhook runs on the hot path of a call (looking up the line, the pupil, the call;
   recording a report and its confirmations), where SQLAlchemy's own execution costs
   several times what the database takes. Written as a Core statement with ``bindparam``
   values, so that it stays one statement whichever way it runs; registered by name, and
   run both ways on both databases by the test of driver statements. Nothing else may
   use the driver directly. ``IVR_DRIVER_STATEMENTS=false`` turns the fast path off.
4. **Alembic migrations** (``ivr.store.migrate``, ``migrations/``) for schema changes only.
"""
