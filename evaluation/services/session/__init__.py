"""The evaluation session's services, by verb (as tendering/services/opening/ is): who may enter, signing in and
declaring, the chair, marks and sheets, deviations, stages, clarifications, discussion, presence, and the views.

Every change runs in one transaction with the tender's case ledger entry (``evaluation.session.*``), locks rows
through ``tendering.services.locks`` only, and publishes its events (``events.publish``) to be sent after commit.
"""
