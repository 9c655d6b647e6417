"""``etender keys import`` against the platform under Daphne: a demo user's keys, registered as ``make run``'s
demo registers them, are imported from the demo's files and are the keys the platform knows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from accounts.models import KeyPurpose
from accounts.own_device import register_own_key
from frontend.demo import _write_private_key
from tendering.sealing import fingerprint
from tests.client.test_end_to_end import ETENDER, Bidder
from tests.fixtures.personas import Personas

pytestmark = pytest.mark.skipif(
    not ETENDER.exists(), reason=f"{ETENDER} is not installed: run `pip install -e . --no-deps`"
)


def test_the_demo_keys_imported_with_the_cli_are_the_keys_the_platform_registered(
    transactional_db: Any, personas: Personas, platform_url: str, tmp_path: Path
) -> None:
    # As load_demo does: the private keys written in the clear to the demo's folder, then registered with proofs.
    demo_keys = tmp_path / "demo-keys"
    demo_keys.mkdir()
    user = personas.bidder_a
    written = {}
    for purpose in (KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION):
        written[purpose] = _write_private_key(demo_keys, user.username, purpose)
        register_own_key(user, purpose, written[purpose], label="demo")

    bidder = Bidder(tmp_path / "home", platform_url)
    bidder.run("login", "--url", platform_url, "--username", user.username)
    for purpose in (KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION):
        out = bidder.run("keys", "import", str(demo_keys / f"{user.username}-{purpose}.pem")).stdout
        assert f"fingerprint {fingerprint(written[purpose].public_key())}" in out

    listing = bidder.run("keys", "list").stdout
    for purpose in (KeyPurpose.SIGNING, KeyPurpose.ENCRYPTION):
        fp = fingerprint(written[purpose].public_key())
        assert re.search(rf"{purpose}\s+default\s+{fp}\s+registered, id \d+", listing), listing
    assert "NOT REGISTERED" not in listing
