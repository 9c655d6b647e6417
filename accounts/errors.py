"""Domain errors with stable codes. The API and the pages turn them into messages."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: Any, fields: dict[str, list[Any]] | None = None) -> dict[str, Any]:
    """The API's error shape, ``{code, message, fields}`` (docs/api.md): written here, below every app that answers."""
    body: dict[str, Any] = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {k: [str(m) for m in v] for k, v in fields.items()}
    return body


class DomainError(Exception):
    """A refused action. ``code`` is stable (API clients match on it); ``message`` is for people."""

    code = "invalid"
    status = 400

    def __init__(self, message: Any, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404


class WrongPhase(DomainError):
    """The action is not allowed in the tender's current phase."""

    code = "wrong_phase"
    status = 409


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidInput(DomainError):
    """Input that breaks a rule; ``fields`` maps each field to its messages."""

    code = "invalid_input"
    status = 422

    def __init__(self, fields: dict[str, list[Any]], message: Any = None) -> None:
        first = next((msgs[0] for msgs in fields.values() if msgs), message or "invalid input")
        super().__init__(message or first)
        self.fields = fields
