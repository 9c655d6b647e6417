"""The recusal of a member who declared a conflict (回避), and its replacement by the draw's next expert in order
(``evaluation.services.confirmation.replace_member``, which marks the member RECUSED itself).

Until that module is in the tree the member is marked RECUSED here and nobody replaces it (the record says so:
``member.replaced`` {replacement: null})."""

from __future__ import annotations

import importlib
from typing import Any

from config import clock
from evaluation.models import CommitteeMember, MemberState


def recuse_and_replace(member: CommitteeMember, actor: Any) -> CommitteeMember | None:
    try:
        confirmation = importlib.import_module("evaluation.services.confirmation")
    except ImportError:
        member.state, member.answered_at = MemberState.RECUSED, clock.now()
        member.save(update_fields=["state", "answered_at"])
        return None
    replaced: CommitteeMember | None = confirmation.replace_member(member, "recused", actor)
    return replaced
