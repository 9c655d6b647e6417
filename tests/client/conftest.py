"""The platform under Daphne for the tests that run the installed ``etender`` against it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from channels.testing.live import make_application
from django.test import override_settings

from tests.fixtures.live_platform import PlatformServerProcess, reset_platform_caches

PART_SIZE = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def platform_url(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The platform under Daphne on 127.0.0.1, sharing the test database; its settings are fixed before the fork."""

    folder = tmp_path_factory.mktemp("client-platform")
    # A data key in a file, not the development one under the PKI folder, which each test moves to its own:
    # this process then opens what the server sealed (keys released at the opening), as a worker would.
    data_key = folder / "data.key"
    data_key.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    data_key.chmod(0o600)
    overrides = override_settings(
        S3_ENDPOINT="",
        OBJECT_STORE_ROOT=folder / "objects",
        DEVELOPMENT_PKI_DIR=folder / "pki",
        PLATFORM_DATA_KEY_FILE=str(data_key),
        BID_PART_SIZE=PART_SIZE,
    )
    overrides.enable()

    reset = reset_platform_caches
    reset()
    server = PlatformServerProcess("127.0.0.1", partial(make_application, static_wrapper=None))
    try:
        with django_db_blocker.unblock():
            server.start()
            while not server.ready.wait(timeout=1):
                if not server.is_alive():
                    raise RuntimeError("the Daphne process stopped before it was ready")
        yield f"http://127.0.0.1:{server.port.value}"
    finally:
        server.terminate()
        server.join()
        overrides.disable()
        reset()
