"""The recusal of a member who declared a conflict (回避): the draw's next expert in order replaces it
(``evaluation.services.confirmation.replace_member``, which marks the member RECUSED and records the redraw)."""

from __future__ import annotations

from typing import Any

from evaluation.models import CommitteeMember
from evaluation.services import confirmation


def recuse_and_replace(member: CommitteeMember, actor: Any) -> CommitteeMember | None:
    """The replacement (invited: it confirms before it signs in), or None when the order is exhausted."""
    return confirmation.replace_member(member, "recused", actor)
