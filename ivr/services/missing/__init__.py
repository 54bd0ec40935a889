"""Missing pupils: a pupil is not at school and nobody reported it, so the guardians are
reached at once, by SMS and by a call, and the school hears if nobody knows where the
pupil is.

The course of an outreach (``OutreachStatus``):

- **marked** by staff (the page, the API, the command line). A pupil with an active report
  covering the moment is not contacted. Every guardian (or, from 18, the pupil's own
  contact) gets an SMS and a call at once; a pupil nobody can be called about raises the
  alert at once.
- **1, away**: a guardian knows the pupil is away today. An absence is recorded for the rest
  of the day (or until the time the guardian keys) and confirmed to every guardian as any
  report; the other guardians' calls are cancelled or ended, and they are told who answered.
- **2, does not know**: the alert goes at once, by email and SMS, to the group's contact
  teachers and the school's office. The other guardians are still being reached: one may
  know.
- **Nobody answers** within ``IVR_MISSING_ESCALATE_MINUTES``: the same alert, "no guardian
  reached". The timer is the line's own, whatever the provider does. Each guardian whose
  call went unanswered is called once more after ``IVR_MISSING_RECALL_MINUTES``.
- **Arrived**: staff stop the outreach at any moment; pending calls are cancelled, calls in
  progress ended, and guardians already reached are told the pupil has arrived.

Each function is a unit of work on a session; the caller owns the transaction. Messages go
through the outbox: SMS and email as ever, calls on the ``call`` channel (placed by one
process at a time, paced), ending a call on the ``hangup`` channel.
"""
