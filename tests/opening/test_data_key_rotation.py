"""Rotating the platform data key (archive/vault.py): the newest key seals, any configured key opens
what it sealed, `manage.py reseal_data_key` moves everything to the newest, an unknown key id is a clear error."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from archive import vault
from archive.models import LedgerEntry
from config.checks import platform_data_key
from tendering.models import BidOpening, BidOpeningState, CustodianSubmission
from tendering.services import decryption
from tendering.services.opening import custodian_parts, key_seals, keys
from tests.opening.conftest import OpeningCase

pytestmark = pytest.mark.django_db


def key_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(base64.b64encode(secrets.token_bytes(32)) + b"\n")
    return path


def key_id_of(path: Path) -> bytes:
    return vault.DataKey(base64.b64decode(path.read_bytes().strip()), development=False).key_id


def stored_values() -> list[bytes]:
    values = []
    for bid_opening in BidOpening.objects.order_by("pk"):
        values += [bytes(v) for v in (bid_opening.sealed_file_key,) if v]
    values += [bytes(s.sealed_parts) for s in CustodianSubmission.objects.order_by("pk") if s.sealed_parts]
    return values


# --- the keyring, without the database ---------------------------------------------------------------------


def test_an_unknown_key_id_is_a_clear_error(settings: Any, tmp_path: Path) -> None:
    settings.PLATFORM_DATA_KEY_FILE = str(key_file(tmp_path, "old.key"))
    sealed = vault.seal("file-key:x", b"secret")
    settings.PLATFORM_DATA_KEY_FILE = str(key_file(tmp_path, "new.key"))
    with pytest.raises(
        vault.UnknownDataKey,
        match=rf"sealed under data key {sealed[1:9].hex()}, which is not configured.*PLATFORM_DATA_KEY_RETIRED_FILES",
    ):
        vault.open_sealed("file-key:x", sealed)


def test_the_newest_key_seals_and_a_retired_key_still_opens(settings: Any, tmp_path: Path) -> None:
    old, new = key_file(tmp_path, "old.key"), key_file(tmp_path, "new.key")
    settings.PLATFORM_DATA_KEY_FILE = str(old)
    sealed_before = vault.seal("file-key:x", b"secret")
    assert vault.sealed_key_id(sealed_before) == key_id_of(old)

    settings.PLATFORM_DATA_KEY_FILE = str(new)
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = [str(old)]
    assert vault.open_sealed("file-key:x", sealed_before) == b"secret"
    sealed_after = vault.seal("file-key:x", b"secret")
    assert vault.sealed_key_id(sealed_after) == key_id_of(new)
    assert vault.data_key().key_ids == [key_id_of(new), key_id_of(old)]
    # The purpose still binds: the retired key opens nothing sealed for another record.
    with pytest.raises(vault.VaultError, match="does not open for 'file-key:y'"):
        vault.open_sealed("file-key:y", sealed_before)
    resealed = vault.reseal("file-key:x", sealed_before)
    assert resealed is not None and vault.sealed_key_id(resealed) == key_id_of(new)
    assert vault.reseal("file-key:x", sealed_after) is None


def test_a_modified_key_id_does_not_open_under_the_key_it_now_names(settings: Any, tmp_path: Path) -> None:
    old, new = key_file(tmp_path, "old.key"), key_file(tmp_path, "new.key")
    settings.PLATFORM_DATA_KEY_FILE = str(old)
    sealed = vault.seal("file-key:x", b"secret")
    settings.PLATFORM_DATA_KEY_FILE = str(new)
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = [str(old)]
    relabelled = sealed[:1] + key_id_of(new) + sealed[9:]
    with pytest.raises(vault.VaultError, match="does not open"):
        vault.open_sealed("file-key:x", relabelled)


def test_a_key_configured_twice_or_unreadable_is_refused_at_start_up(settings: Any, tmp_path: Path) -> None:
    current = key_file(tmp_path, "current.key")
    settings.PLATFORM_DATA_KEY_FILE = str(current)
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = [str(current)]
    with pytest.raises(ImproperlyConfigured, match="configured twice"):
        vault.data_key()
    assert [e.id for e in platform_data_key()] == ["etender.E010"]
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = [str(tmp_path / "missing.key")]
    [error] = platform_data_key()
    assert error.id == "etender.E010" and "PLATFORM_DATA_KEY_RETIRED_FILES" in error.msg
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = []
    assert platform_data_key() == []


# --- re-sealing what an opening stored ------------------------------------------------------------------------


def opened_case(case: OpeningCase) -> None:
    """A released key (its bid opened: the same key reads its files, there is no second copy) and one custodian's
    parts, all sealed."""
    first = case.entries[0]
    case.at_opening()
    keys.release_key(first.user, case.tender, first.bid.public_id, first.file_key())
    for bid_opening in BidOpening.objects.filter(state=BidOpeningState.KEY_READY):
        decryption.decrypt_bid(bid_opening.pk)
    custodian_parts.submit_custodian_parts(case.custodians[0], case.tender, case.parts_of(0))


def test_reseal_moves_every_stored_secret_to_the_new_key_and_they_still_open(
    opening_case: OpeningCase, settings: Any, tmp_path: Path, capsys: Any
) -> None:
    old, new = key_file(tmp_path, "old.key"), key_file(tmp_path, "new.key")
    settings.PLATFORM_DATA_KEY_FILE = str(old)
    opened_case(opening_case)
    before = stored_values()
    bid_opening = BidOpening.objects.get(bid=opening_case.entries[0].bid)
    file_key = key_seals.open_file_key(bid_opening)
    assert len(before) >= 2 and {vault.sealed_key_id(v) for v in before} == {key_id_of(old)}

    settings.PLATFORM_DATA_KEY_FILE = str(new)
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = [str(old)]
    # Before re-sealing, the retired key still opens what it sealed.
    assert key_seals.open_file_key(BidOpening.objects.get(pk=bid_opening.pk)) == file_key
    call_command("reseal_data_key")
    assert "Sealed again under data key " + key_id_of(new).hex() in capsys.readouterr().out
    after = stored_values()
    assert len(after) == len(before)
    assert {vault.sealed_key_id(v) for v in after} == {key_id_of(new)}
    [entry] = LedgerEntry.objects.filter(action="tendering.data_key.resealed")
    assert entry.case == opening_case.tender.case
    data = json.loads(entry.data)
    assert data["key_id"] == key_id_of(new).hex()
    assert data["file_key"] + data["custodian_parts"] == len(before)
    assert data["custodian_parts"] == CustodianSubmission.objects.count() == 1

    # The retired key can go: everything opens under the new key alone.
    settings.PLATFORM_DATA_KEY_RETIRED_FILES = []
    bid_opening.refresh_from_db()
    assert key_seals.open_file_key(bid_opening) == file_key
    # Run again, it changes nothing and records nothing.
    call_command("reseal_data_key")
    assert stored_values() == after
    assert LedgerEntry.objects.filter(action="tendering.data_key.resealed").count() == 1


def test_reseal_without_the_old_key_stops_with_a_clear_error_and_changes_nothing(
    opening_case: OpeningCase, settings: Any, tmp_path: Path
) -> None:
    settings.PLATFORM_DATA_KEY_FILE = str(key_file(tmp_path, "old.key"))
    opened_case(opening_case)
    before = stored_values()
    entries = LedgerEntry.objects.count()
    settings.PLATFORM_DATA_KEY_FILE = str(key_file(tmp_path, "new.key"))
    with pytest.raises(CommandError, match="which is not configured"):
        call_command("reseal_data_key")
    assert stored_values() == before
    assert LedgerEntry.objects.count() == entries
