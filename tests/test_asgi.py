"""The ASGI application Daphne serves: static files in development, nginx's job in production."""

import os
import subprocess
import sys

import pytest

PROBE = (
    "import config.asgi as a; "
    "from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler as H; "
    "print(isinstance(a.application.application_mapping['http'], H))"
)


@pytest.mark.parametrize(("debug", "serves_static"), [("1", "True"), ("0", "False")])
def test_daphne_serves_static_files_only_in_development(tmp_path, debug, serves_static):
    env = {**os.environ, "DEBUG": debug, "ETENDER_ENV": "development", "ETENDER_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == serves_static
