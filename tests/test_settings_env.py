"""The typed environment readers (config/env.py) and the production checks (config/checks.py).

A value the readers cannot use stops the process with ImproperlyConfigured naming
the variable; the checks refuse each embedded part when ETENDER_ENV=production.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.checks import Error, Tags, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from config.checks import production_configuration
from config.env import env_bool, env_choice, env_int, env_list, env_str

# --- config/env.py: refusals first -----------------------------------------------------


def test_it_refuses_an_integer_that_is_not_one() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_PORT='eighty' is not an integer\."):
        env_int("ETENDER_X_PORT", 80, environ={"ETENDER_X_PORT": "eighty"})


@pytest.mark.parametrize("value", ["1.5", "0x10", "", "12 cm"])
def test_it_refuses_every_malformed_integer(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_COUNT="):
        env_int("ETENDER_X_COUNT", 1, environ={"ETENDER_X_COUNT": value})


@pytest.mark.parametrize("value", ["maybe", "2", "enabled", "y"])
def test_it_refuses_a_boolean_that_is_not_one(value: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_FLAG=.* is not a boolean"):
        env_bool("ETENDER_X_FLAG", False, environ={"ETENDER_X_FLAG": value})


def test_it_refuses_an_integer_below_the_minimum() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_SIZE=4 is below the minimum 5\."):
        env_int("ETENDER_X_SIZE", 10, minimum=5, environ={"ETENDER_X_SIZE": "4"})


def test_it_refuses_an_integer_above_the_maximum() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_SIZE=10 is above the maximum 9\."):
        env_int("ETENDER_X_SIZE", 1, maximum=9, environ={"ETENDER_X_SIZE": "10"})


def test_it_refuses_a_default_out_of_range_too() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_SIZE=0 is below the minimum 1\."):
        env_int("ETENDER_X_SIZE", 0, minimum=1, environ={})


def test_it_refuses_a_choice_outside_the_set() -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^ETENDER_X_MODE='prod' must be one of \['development', 'production'\]"
    ):
        env_choice("ETENDER_X_MODE", "development", {"development", "production"}, environ={"ETENDER_X_MODE": "prod"})


@pytest.mark.parametrize("reader", [env_str, env_list], ids=["str", "list"])
def test_it_refuses_a_variable_given_both_directly_and_as_a_file(reader: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_text("from the file", encoding="utf-8")
    environ = {"ETENDER_X_TOKEN": "direct", "ETENDER_X_TOKEN_FILE": str(path)}
    with pytest.raises(ImproperlyConfigured, match=r"^Set ETENDER_X_TOKEN or ETENDER_X_TOKEN_FILE, not both\."):
        reader("ETENDER_X_TOKEN", "", environ=environ)


def test_it_refuses_both_forms_even_for_a_typed_variable(tmp_path: Path) -> None:
    path = tmp_path / "value"
    path.write_text("3", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=r"ETENDER_X_COUNT or ETENDER_X_COUNT_FILE"):
        env_int("ETENDER_X_COUNT", 1, environ={"ETENDER_X_COUNT": "3", "ETENDER_X_COUNT_FILE": str(path)})


def test_it_refuses_a_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_TOKEN_FILE='.*no-such-secret' cannot be read"):
        env_str("ETENDER_X_TOKEN", "", environ={"ETENDER_X_TOKEN_FILE": str(missing)})


def test_it_refuses_a_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_TOKEN_FILE=.* cannot be read"):
        env_str("ETENDER_X_TOKEN", "", environ={"ETENDER_X_TOKEN_FILE": str(tmp_path)})


def test_it_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_TOKEN_FILE=.* cannot be read"):
        env_str("ETENDER_X_TOKEN", "", environ={"ETENDER_X_TOKEN_FILE": str(path)})


def test_it_refuses_a_malformed_value_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "count"
    path.write_text("many\n", encoding="utf-8")
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_COUNT='many' is not an integer\."):
        env_int("ETENDER_X_COUNT", 1, environ={"ETENDER_X_COUNT_FILE": str(path)})


# --- config/env.py: what it accepts --------------------------------------------------


def test_it_reads_a_secret_from_a_file_without_the_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("  s3cr3t-value\n", encoding="utf-8")
    assert env_str("ETENDER_X_TOKEN", "default", environ={"ETENDER_X_TOKEN_FILE": str(path)}) == "s3cr3t-value"


def test_it_reads_os_environ_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETENDER_X_PORT", "8443")
    assert env_int("ETENDER_X_PORT", 80) == 8443
    monkeypatch.setenv("ETENDER_X_PORT", "http")
    with pytest.raises(ImproperlyConfigured, match=r"^ETENDER_X_PORT='http'"):
        env_int("ETENDER_X_PORT", 80)


def test_it_falls_back_to_the_default_only_when_unset() -> None:
    assert env_str("ETENDER_X_TOKEN", "fallback", environ={}) == "fallback"
    assert env_str("ETENDER_X_TOKEN", "fallback", environ={"ETENDER_X_TOKEN": ""}) == ""
    assert env_int("ETENDER_X_PORT", 80, environ={}) == 80
    assert env_bool("ETENDER_X_FLAG", True, environ={}) is True
    assert env_choice("ETENDER_X_MODE", "a", {"a", "b"}, environ={}) == "a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_it_reads_booleans(value: str, expected: bool) -> None:
    assert env_bool("ETENDER_X_FLAG", not expected, environ={"ETENDER_X_FLAG": value}) is expected


@pytest.mark.parametrize(("value", "expected"), [("42", 42), (" 7 ", 7), ("-3", -3), ("209_715_200", 209715200)])
def test_it_reads_integers(value: str, expected: int) -> None:
    assert env_int("ETENDER_X_COUNT", 0, environ={"ETENDER_X_COUNT": value}) == expected


def test_it_accepts_the_bounds_themselves() -> None:
    assert env_int("ETENDER_X_SIZE", 0, minimum=5, maximum=9, environ={"ETENDER_X_SIZE": "5"}) == 5
    assert env_int("ETENDER_X_SIZE", 0, minimum=5, maximum=9, environ={"ETENDER_X_SIZE": "9"}) == 9


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("etender.example.org", ["etender.example.org"]),
        ("a.example, b.example ,c.example", ["a.example", "b.example", "c.example"]),
        ("a.example,,b.example,", ["a.example", "b.example"]),
        ("", []),
        (" , ", []),
    ],
)
def test_it_reads_comma_separated_lists(value: str, expected: list[str]) -> None:
    assert env_list("ETENDER_X_HOSTS", ["default"], environ={"ETENDER_X_HOSTS": value}) == expected


def test_a_list_default_is_a_copy() -> None:
    default = ["localhost"]
    result = env_list("ETENDER_X_HOSTS", default, environ={})
    result.append("evil.example")
    assert default == ["localhost"]


# --- config/checks.py ---------------------------------------------------------------------

REDIS_LAYER = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": "redis://redis:6379/0"}]},
    }
}
MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def set_database_engine(monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    """Swaps the default database's ENGINE for the test, as the check sees it.

    DATABASES cannot go through override_settings (Django warns, and warnings are
    errors here). The engine is changed inside the live dict instead, once the
    connection handler has built its connection from it, and put back afterwards.
    """
    connections["default"]  # builds the connection wrapper (does not connect) before the change
    monkeypatch.setitem(django_settings.DATABASES["default"], "ENGINE", engine)


@pytest.fixture
def production(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings as production runs them: every embedded part replaced."""
    set_database_engine(monkeypatch, "django.db.backends.postgresql")
    settings.ETENDER_ENV = "production"
    settings.SECRET_KEY = "k" * 32 + "-production-grade-and-long-enough-" + "q" * 16
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.S3_ENDPOINT = "minio:9000"
    settings.CLOCK_OFFSET_SECONDS = 0
    settings.DOSSIER_RETENTION_MODE = "COMPLIANCE"
    settings.PLATFORM_SIGNING_KEY_FILE = "/run/secrets/platform_signing_key"
    settings.PLATFORM_CERTIFICATE_FILE = "/run/secrets/platform_certificate"
    settings.PLATFORM_CA_CERTIFICATE_FILE = "/run/secrets/platform_ca_certificate"
    return settings


def error_ids(errors: list[Error]) -> list[str]:
    return [error.id for error in errors if error.id]


def _sqlite(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    set_database_engine(monkeypatch, "django.db.backends.sqlite3")


EMBEDDED_PARTS: list[tuple[str, Callable[[Any, pytest.MonkeyPatch], None], str]] = [
    ("sqlite", _sqlite, "etender.E001"),
    (
        "development secret key",
        lambda s, m: setattr(s, "SECRET_KEY", django_settings.DEVELOPMENT_SECRET_KEY),
        "etender.E002",
    ),
    ("short secret key", lambda s, m: setattr(s, "SECRET_KEY", "x" * 49), "etender.E002"),
    ("debug", lambda s, m: setattr(s, "DEBUG", True), "etender.E003"),
    ("in-memory channel layer", lambda s, m: setattr(s, "CHANNEL_LAYERS", MEMORY_LAYER), "etender.E004"),
    ("filesystem object store", lambda s, m: setattr(s, "S3_ENDPOINT", ""), "etender.E005"),
    ("clock moved forward", lambda s, m: setattr(s, "CLOCK_OFFSET_SECONDS", 3600), "etender.E006"),
    ("clock moved back", lambda s, m: setattr(s, "CLOCK_OFFSET_SECONDS", -1), "etender.E006"),
    ("dossiers under governance", lambda s, m: setattr(s, "DOSSIER_RETENTION_MODE", "GOVERNANCE"), "etender.E015"),
    ("no signing key", lambda s, m: setattr(s, "PLATFORM_SIGNING_KEY_FILE", ""), "etender.E007"),
    ("no certificate", lambda s, m: setattr(s, "PLATFORM_CERTIFICATE_FILE", ""), "etender.E007"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in EMBEDDED_PARTS], ids=[n for n, _, _ in EMBEDDED_PARTS]
)
def test_production_refuses_each_embedded_part(
    production: Any, monkeypatch: pytest.MonkeyPatch, change: Callable[[Any, pytest.MonkeyPatch], None], expected: str
) -> None:
    change(production, monkeypatch)
    assert error_ids(production_configuration()) == [expected]


def test_a_production_grade_configuration_passes(production: Any) -> None:
    assert production_configuration() == []


def test_the_errors_carry_a_hint(production: Any) -> None:
    production.DEBUG = True
    [error] = production_configuration()
    assert isinstance(error, Error)
    assert error.hint == "Unset DEBUG or set DEBUG=0."


def test_the_check_is_registered_with_django(production: Any, db: Any) -> None:
    production.S3_ENDPOINT = ""
    assert "etender.E005" in error_ids(run_checks(tags=[Tags.security]))


@pytest.mark.parametrize("environment", ["development", "test"])
def test_outside_production_the_embedded_parts_are_allowed(
    settings: Any, monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    set_database_engine(monkeypatch, "django.db.backends.sqlite3")
    settings.ETENDER_ENV = environment
    settings.SECRET_KEY = django_settings.DEVELOPMENT_SECRET_KEY
    settings.DEBUG = True
    settings.CHANNEL_LAYERS = MEMORY_LAYER
    settings.S3_ENDPOINT = ""
    settings.CLOCK_OFFSET_SECONDS = 3600
    settings.PLATFORM_SIGNING_KEY_FILE = ""
    assert production_configuration() == []


def test_unusable_platform_key_files_are_refused_at_start_up(tmp_path: Path, settings: Any) -> None:
    from config.checks import platform_signing_identity

    key = tmp_path / "key.pem"
    key.write_text("not a key", encoding="utf-8")
    settings.PLATFORM_SIGNING_KEY_FILE = str(key)
    settings.PLATFORM_CERTIFICATE_FILE = str(tmp_path / "missing.pem")
    assert [e.id for e in platform_signing_identity()] == ["etender.E008"]
    settings.PLATFORM_SIGNING_KEY_FILE = ""
    settings.PLATFORM_CERTIFICATE_FILE = ""
    assert platform_signing_identity() == []


# --- config/checks.py: keys apart from the data, the store's credentials, no demo ---------------------------

KEY_SETTINGS = [
    "PLATFORM_SIGNING_KEY_FILE",
    "PLATFORM_CERTIFICATE_FILE",
    "PLATFORM_CA_CERTIFICATE_FILE",
    "PLATFORM_DATA_KEY_FILE",
    "TIMESTAMP_AUTHORITY_CERTIFICATE_FILE",
]


def _under_the_pki(settings: Any) -> Path:
    return Path(settings.DEVELOPMENT_PKI_DIR) / "key.pem"


def _under_var(settings: Any) -> Path:
    return Path(settings.VAR_DIR) / "secrets" / "key.pem"


def _under_the_object_store(settings: Any) -> Path:
    return Path(settings.OBJECT_STORE_ROOT) / "key.pem"


def _climbing_back_into_var(settings: Any) -> Path:
    return Path("/run/secrets/../..") / Path(settings.VAR_DIR).resolve().relative_to("/") / "key.pem"


FORBIDDEN_PLACES = [
    ("development PKI", _under_the_pki),
    ("var folder", _under_var),
    ("object store", _under_the_object_store),
    ("var folder through ..", _climbing_back_into_var),
]


@pytest.mark.parametrize("name", KEY_SETTINGS)
@pytest.mark.parametrize(("place", "where"), FORBIDDEN_PLACES, ids=[p for p, _ in FORBIDDEN_PLACES])
def test_production_refuses_a_key_file_beside_the_data(
    production: Any, name: str, place: str, where: Callable[[Any], Path]
) -> None:
    from config.checks import key_files_apart_from_the_data

    assert key_files_apart_from_the_data() == []
    setattr(production, name, str(where(production)))
    [error] = key_files_apart_from_the_data()
    assert error.id == "etender.E011"
    assert error.msg.startswith(f"{name}=")


def test_production_refuses_a_key_beside_the_sqlite_database(
    production: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from config.checks import key_files_apart_from_the_data

    set_database_engine(monkeypatch, "django.db.backends.sqlite3")
    monkeypatch.setitem(django_settings.DATABASES["default"], "NAME", str(tmp_path / "db" / "etender.sqlite3"))
    production.PLATFORM_DATA_KEY_FILE = str(tmp_path / "db" / "data.key")
    assert [e.id for e in key_files_apart_from_the_data()] == ["etender.E011"]
    production.PLATFORM_DATA_KEY_FILE = str(tmp_path / "secrets" / "data.key")
    assert key_files_apart_from_the_data() == []


def test_production_refuses_a_retired_data_key_beside_the_data(production: Any) -> None:
    from config.checks import key_files_apart_from_the_data

    production.PLATFORM_DATA_KEY_RETIRED_FILES = ["/run/secrets/old_data_key", str(_under_var(production))]
    [error] = key_files_apart_from_the_data()
    assert error.id == "etender.E011" and error.msg.startswith("PLATFORM_DATA_KEY_RETIRED_FILES=")


@pytest.mark.parametrize("secure", [False, True], ids=["S3_SECURE=0", "S3_SECURE=1"])
@pytest.mark.parametrize(
    ("access", "secret"), [("minioadmin", "minioadmin"), ("etender-app", "minioadmin"), ("minioadmin", "f" * 40)]
)
def test_production_refuses_the_object_stores_default_credentials(
    production: Any, secure: bool, access: str, secret: str
) -> None:
    from config.checks import object_store_credentials

    production.S3_SECURE, production.S3_ACCESS_KEY, production.S3_SECRET_KEY = secure, access, secret
    [error] = object_store_credentials()
    assert error.id == "etender.E012"
    assert ("plain HTTP" in error.msg) is (not secure)


def test_the_object_stores_own_credentials_pass_even_without_tls(production: Any, settings: Any) -> None:
    from config.checks import object_store_credentials

    production.S3_SECURE, production.S3_ACCESS_KEY, production.S3_SECRET_KEY = False, "etender-app", "f" * 40
    assert object_store_credentials() == []
    settings.ETENDER_ENV = "development"
    settings.S3_ACCESS_KEY = settings.S3_SECRET_KEY = "minioadmin"
    assert object_store_credentials() == []


def test_production_refuses_demo_users_that_keep_their_printed_passwords(production: Any, db: Any) -> None:
    from django.core.checks import run_checks

    from accounts.models import User
    from config.checks import no_demo_users
    from frontend.demo import demo_password

    assert no_demo_users(databases=["default"]) == []
    User.objects.create_user(username="bidder1", password="Someone-Elses-Password-2026")
    assert no_demo_users(databases=["default"]) == []  # a real user who happens to have a demo name
    User.objects.create_user(username="tenderer", password=demo_password("tenderer"))
    User.objects.create_user(username="custodian2", password=demo_password("custodian2"), is_active=False)
    [error] = no_demo_users(databases=["default"])
    assert error.id == "etender.E013" and "tenderer" in error.msg and "custodian2" not in error.msg
    # A database check: run where a database is named (migrate does), not by a bare check.
    assert "etender.E013" in [e.id for e in run_checks(databases=["default"])]
    assert "etender.E013" not in [e.id for e in run_checks()]


def test_production_refuses_the_demos_private_keys_on_the_machine(production: Any, db: Any, tmp_path: Path) -> None:
    from config.checks import no_demo_keys

    production.VAR_DIR = tmp_path / "var"
    assert no_demo_keys() == []
    (tmp_path / "var" / "demo-keys").mkdir(parents=True)
    assert [e.id for e in no_demo_keys()] == ["etender.E014"]


def test_load_demo_refuses_to_run_in_production_and_creates_nothing(production: Any, db: Any, tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    from accounts.models import Organization, User

    production.VAR_DIR = tmp_path / "var"
    with pytest.raises(CommandError, match="ETENDER_ENV=production"):
        call_command("load_demo")
    assert not User.objects.exists() and not Organization.objects.exists()
    assert not (tmp_path / "var" / "demo-keys").exists()


def test_outside_production_the_demo_and_keys_beside_the_data_are_allowed(settings: Any, db: Any) -> None:
    from accounts.models import User
    from config.checks import key_files_apart_from_the_data, no_demo_keys, no_demo_users
    from frontend.demo import demo_password

    settings.ETENDER_ENV = "development"
    settings.PLATFORM_DATA_KEY_FILE = str(Path(settings.DEVELOPMENT_PKI_DIR) / "data.key")
    User.objects.create_user(username="tenderer", password=demo_password("tenderer"))
    assert key_files_apart_from_the_data() == []
    assert no_demo_users(databases=["default"]) == [] and no_demo_keys() == []
