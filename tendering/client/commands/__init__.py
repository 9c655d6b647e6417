"""The ``etender`` commands, one module per group; ``tendering.client.cli`` assembles them.

Each module holds its commands' handlers and a ``register(registry)`` that adds
them to the parser; what they share (output, times, the session, secrets, the
parser's pieces) is in ``base``.
"""

from __future__ import annotations

from types import ModuleType

from tendering.client.commands import account, bids, custodian, keys, opening, receipt, tenders, trust

#: In the order ``etender --help`` lists them.
GROUPS: tuple[ModuleType, ...] = (account, keys, trust, tenders, bids, receipt, opening, custodian)
