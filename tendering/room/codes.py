"""The error codes and close codes every room sends: one enum each, the source of the JS and CLI lists.

The browser's list, ``frontend/js/lib/room-codes.js``, is written from these enums
(``python -m tendering.room.codes``) and checked in; ``tests/room/test_codes.py`` fails when the two
disagree. The CLI imports the enums themselves (this module imports neither Django nor Channels).
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path


class ErrorCode(enum.StrEnum):
    """``code`` of an ``error`` frame (and of the HTTP API's refusals of the same actions)."""

    # The protocol's own: refused before any service sees the frame.
    NOT_AUTHENTICATED = "not_authenticated"
    NOT_FOUND = "not_found"
    BINARY_FRAME = "binary_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    MALFORMED_FRAME = "malformed_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FRAME = "invalid_frame"
    # The domain errors' defaults (accounts.errors).
    INVALID = "invalid"
    PERMISSION_DENIED = "permission_denied"
    WRONG_PHASE = "wrong_phase"
    CONFLICT = "conflict"
    INVALID_INPUT = "invalid_input"
    # The opening hall's (tendering.services.opening and its worker).
    NOT_IN_HALL = "not_in_hall"
    HALL_NOT_OPEN = "hall_not_open"
    NOT_ALLOWED_IN_HALL = "not_allowed_in_hall"
    OPENING_CLOSED = "opening_closed"
    DECRYPTION_WINDOW_OPEN = "decryption_window_open"
    DECRYPTION_WINDOW_CLOSED = "decryption_window_closed"
    DECRYPTION_CONCLUDED = "decryption_concluded"
    BID_ALREADY_ENDED = "bid_already_ended"
    KEY_ALREADY_READY = "key_already_ready"
    KEY_RELEASE_THROTTLED = "key_release_throttled"
    CUSTODIANS_NOT_USED = "custodians_not_used"
    PARTS_ALREADY_SUBMITTED = "parts_already_submitted"
    CUSTODIAN_CHECK_PENDING = "custodian_check_pending"
    NOTHING_TO_RETRY = "nothing_to_retry"
    RECORD_NOT_PUBLISHED = "record_not_published"
    CONFIRMATION_OPEN = "confirmation_open"
    CONFIRMATION_CLOSED = "confirmation_closed"
    ALREADY_CONFIRMED = "already_confirmed"
    ALREADY_ANSWERED = "already_answered"
    OBJECTIONS_UNANSWERED = "objections_unanswered"
    # Every room's: a connection sending more commands than its token bucket holds.
    RATE_LIMITED = "rate_limited"
    # The evaluation session's (evaluation.services.session).
    NOT_A_MEMBER = "not_a_member"
    READ_ONLY = "read_only"
    WRONG_STAGE = "wrong_stage"
    NOT_CHAIR = "not_chair"
    CONFLICTED = "conflicted"
    SHEET_LOCKED = "sheet_locked"
    ALREADY_SUBMITTED = "already_submitted"
    SHEETS_MISSING = "sheets_missing"
    DEVIATIONS_UNRESOLVED = "deviations_unresolved"
    CLARIFICATION_DEADLINE_PASSED = "clarification_deadline_passed"
    # The method the session reads is not the one the tender published (tendering.services.tenders).
    METHOD_NOT_AS_PUBLISHED = "method_not_as_published"
    PUBLICATION_RECORD_INVALID = "publication_record_invalid"


class CloseCode(enum.IntEnum):
    """The application's WebSocket close codes (4000-4999): after 4401, 4403 and 4404 trying again cannot help."""

    NOT_AUTHENTICATED = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    NOT_OPEN = 4409


FINAL_CLOSES = (CloseCode.NOT_AUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.NOT_FOUND)

ES_MODULE = Path(__file__).resolve().parents[2] / "frontend" / "js" / "lib" / "room-codes.js"


def es_module() -> str:
    """The browser's copy of the enums, as an ES module (written by this module, never by hand)."""
    lines = [
        "// Written by `python -m tendering.room.codes` from tendering/room/codes.py: do not edit by hand.",
        "// tests/room/test_codes.py fails when this list and the Python enums disagree.",
        "",
        "/** `code` of a room's error frames. */",
        "export const ErrorCode = Object.freeze({",
        *(f'  {code.name}: "{code.value}",' for code in ErrorCode),
        "});",
        "",
        "/** The application's WebSocket close codes. */",
        "export const CloseCode = Object.freeze({",
        *(f"  {code.name}: {code.value}," for code in CloseCode),
        "});",
        "",
        "/** Close codes after which trying again cannot help. */",
        f"export const FINAL_CLOSES = Object.freeze([{', '.join(f'CloseCode.{c.name}' for c in FINAL_CLOSES)}]);",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    ES_MODULE.write_text(es_module(), encoding="utf-8")
    sys.stdout.write(f"wrote {ES_MODULE}\n")
