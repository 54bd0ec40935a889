"""Load benchmark of the absence line: whole calls over the real webhook protocol.

Run from the repository root::

    .venv/bin/python scripts/bench                      # SQLite, 10,000 pupils, 20 s
    .venv/bin/python scripts/bench --db both --json bench-results/run.json
    .venv/bin/python scripts/bench --quick --db both    # smoke test, under a minute
    .venv/bin/python scripts/bench --rate 500 --db both # latency at 500 webhooks/s
    .venv/bin/python scripts/bench --memory-check       # 100,000 calls: RSS at 20k and 100k
    .venv/bin/python scripts/bench --pupils-compare     # personal-number step, 10k vs 1M pupils
    .venv/bin/python scripts/bench --import-only --pupils 66667   # about 100,000 rows

For each database (``--db sqlite``, ``postgres`` or ``both``) the script creates a fresh
database (SQLite: a file in a temporary directory; PostgreSQL: ``ivr_bench_<random>`` on the
server of ``--postgres-url``, dropped at the end), writes a roster CSV of ``--pupils`` pupils
with synthetic but valid personal numbers (born 2008-2020, unique, Luhn-checked; they exist
only in these throwaway databases), and loads it with the real command line (``ivr org add``,
``ivr number add``, ``ivr roster import``), timing the import. Each pupil has one guardian
with a phone number from the fictional range +46 70-174 06 05..99 (so these few guardians
share many pupils) and every other pupil a second guardian with an email address only: each
absence queues two or three confirmations. ``--import-chunk N`` imports N pupils per run of
``ivr roster import``; on PostgreSQL the planner statistics are refreshed (``ANALYZE``, as
autovacuum would) after the import and between the files.

It then starts ``ivr serve --workers 1`` (``--workers N`` for more, ``--server-env`` adds
settings) and lets ``--concurrency`` simulated callers place complete calls, each on its own
keep-alive connection: the incoming-call webhook, one webhook per prompt (posted to the ``<Gather
action>`` of each answer, which carries the call's progress), and the status callback, every
request signed as Twilio signs it. The mix of calls::

    50%  whole day today     PN 9
    15%  another whole day   PN D 9 9 9
    10%  part of a day       PN D 1000 9 1230
    10%  several days        PN D 9 D+2 9
     5%  help first          # PN 9   or   PN # 9
     5%  a wrong entry       PN 5 9
     5%  start over          PN D * PN 9

PN is the ten-digit personal number of the next pupil in a scattered order that calls every
pupil once before any again (a report already held whole by another call records nothing,
and the guardian is told so: counted apart), D a school day (a weekday that is no
Swedish public holiday) 1-30 days ahead; the caller is the pupil's first guardian and hangs
up once the absence is recorded. Should the line ask about a period without a school day
(today, on a weekend), the caller keeps the report with 9. Afterwards the
database must hold exactly the absences whose references the callers were given (each for
its call and pupil, none lost or doubled), their confirmations in the outbox, and every call
whose status callback was accepted as completed.

After the load it reads the server's metrics (the share of webhooks that needed the
database) and places ``--step-calls`` more calls (1,500) one kind of webhook at a time, by
as many callers at once, reading the server's CPU before and after each kind: the CPU per
webhook of the incoming call, the personal number, a date or time, the report and the
status callback.

The same load generator first drives ``scripts/bare_app.py``, FastAPI on uvicorn parsing the
form and answering constant TwiML: the ceiling of any webhook server on this stack.

Targets:

* the load generator drives the bare app at 5,000 requests/s or more (2 cores, shared);
* a roster import of 100,000 rows takes under 60 s;
* the server's RSS after 100,000 calls is within 10% of its RSS after 20,000 (``--memory-check``);
* the p99 latency of the personal-number step with 1,000,000 pupils is within 20% of that
  with 10,000 (``--pupils-compare``; the rosters are imported 50,000 pupils per file).

The exit status is 0 if no request failed and the database matched what the callers saw,
1 if not, 2 if the benchmark could not run and 130 if it was interrupted. ``--json FILE`` writes
``settings`` (including the git commit of the code), ``baseline`` (the bare app) and
``databases``, keyed by database (``sqlite``, ``postgres``; ``sqlite-1000000`` and so on with
``--pupils-compare``), each with ``rps`` (webhooks/s), ``baseline_rps``, ``ratio``,
``p50_ms``, ``p99_ms``, ``errors``, ``rss_mb`` (peak), ``calls_per_s``, ``import_seconds``,
``import_rows_per_s``, ``pupils``, ``concurrency``, the server's CPU per webhook, latencies
per step, RSS samples, the database check, ``database_share`` and ``cpu_ms_by_step``;
``--pupils-compare`` adds ``pupils_compare``.
The CPU columns tell whether other work on the machine disturbed a run.

Everything listens on 127.0.0.1 only. Server processes are stopped and temporary databases
removed when the run ends, also on Ctrl-C.
"""
