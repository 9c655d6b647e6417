"""Service functions: the only code that changes tendering's data.

Each runs in a transaction, checks permission and phase, writes its ledger
entry, and schedules side effects with ``on_commit``.
"""
