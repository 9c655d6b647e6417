"""Row locks, taken in one fixed order (pretix's ``lock_objects`` is the model).

Every service of tendering that changes rows another request or the worker may
change at the same time locks them here, inside its transaction, with
``SELECT … FOR UPDATE OF`` the model's own table (joined rows are read, not
locked). Two rules keep two transactions from waiting on each other for ever:

- models are locked in the order of ``LOCK_ORDER`` (a tender before its
  opening, an opening before its bids' rows): locking a model that comes
  earlier than one this transaction already locked is refused with
  ``LockOrderError``;
- rows of one model are locked by primary key, in one statement.

A lock outside a transaction would be released at once: ``lock`` refuses it
with ``LockOutsideTransaction``. The order is checked across calls within one
transaction (a savepoint rolled back releases its locks, and its record here).
"""

from __future__ import annotations

from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts.errors import NotFound
from tendering.models import (
    Bid,
    BidOpening,
    BidUpload,
    CustodianSubmission,
    Entrustment,
    Opening,
    Question,
    RecordObjection,
    Tender,
)

M = TypeVar("M", bound=models.Model)

# The one order in which rows are locked. A model not listed cannot be locked through this module.
LOCK_ORDER: list[type[models.Model]] = [
    Entrustment,
    Tender,
    Question,
    BidUpload,
    Bid,
    Opening,
    BidOpening,
    CustodianSubmission,
    RecordObjection,
]
_RANK = {model: rank for rank, model in enumerate(LOCK_ORDER)}


def extend_lock_order(*later: type[models.Model]) -> None:
    """Append an app's own models after tendering's, in their order (an app above tendering, at its ready()).

    ``tendering`` cannot import the apps that build on it: they add their models here instead, once."""
    for model in later:
        if model in _RANK:
            raise ValueError(f"{model.__name__} is already in LOCK_ORDER")
        _RANK[model] = len(LOCK_ORDER)
        LOCK_ORDER.append(model)


class LockOutsideTransaction(RuntimeError):
    """A lock was asked for outside ``transaction.atomic``: it would end with the statement."""


class LockOrderError(RuntimeError):
    """A model was locked after one that comes later in ``LOCK_ORDER``, in the same transaction."""


class _Held:
    """Marks, in the transaction's commit hooks, the highest rank locked so far (nothing runs at commit).

    Django forgets a transaction's hooks when it commits or rolls back, and a savepoint's when it is
    rolled back: the record of what is locked ends with the locks themselves.
    """

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __call__(self) -> None:
        return None


def _highest_held(using: str) -> int:
    connection = transaction.get_connection(using)
    current = set(connection.savepoint_ids)
    ranks = [
        func.rank
        for savepoints, func, _robust in connection.run_on_commit
        if isinstance(func, _Held) and savepoints <= current
    ]
    return max(ranks, default=-1)


def _take(model: type[models.Model], using: str) -> None:
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        raise LockOutsideTransaction(f"{model.__name__} rows locked outside a transaction")
    try:
        rank = _RANK[model]
    except KeyError:
        raise LockOrderError(f"{model.__name__} is not in tendering.services.locks.LOCK_ORDER") from None
    held = _highest_held(using)
    if rank < held:
        raise LockOrderError(
            f"{model.__name__} locked after {LOCK_ORDER[held].__name__}: the order is "
            + " → ".join(m.__name__ for m in LOCK_ORDER)
        )
    if rank > held:
        transaction.on_commit(_Held(rank), using=using)


def lock(queryset: QuerySet[M]) -> list[M]:
    """Lock and return the rows of ``queryset``, by primary key (the caller sorts them otherwise if it needs to)."""
    using = queryset.db or DEFAULT_DB_ALIAS
    _take(queryset.model, using)
    return list(queryset.select_for_update(of=("self",)).order_by("pk"))


def lock_first(queryset: QuerySet[M]) -> M | None:
    """Lock and return the row of ``queryset`` with the lowest primary key, or None."""
    using = queryset.db or DEFAULT_DB_ALIAS
    _take(queryset.model, using)
    return queryset.select_for_update(of=("self",)).order_by("pk").first()


def lock_one(queryset: QuerySet[M]) -> M:
    """Lock and return the one row of ``queryset`` (``DoesNotExist`` when there is none)."""
    using = queryset.db or DEFAULT_DB_ALIAS
    _take(queryset.model, using)
    return queryset.select_for_update(of=("self",)).get()


def lock_tender(tender_id: int) -> Tender:
    """The tender's row, locked; "not found" when there is no such tender."""
    tender = lock_first(Tender.objects.filter(pk=tender_id))
    if tender is None:
        raise NotFound(_("找不到该招标项目。"))
    return tender
