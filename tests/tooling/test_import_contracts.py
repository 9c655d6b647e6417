"""The import-linter contracts (make lint) say what docs/architecture.md says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def test_the_layers_contract_is_the_dependency_direction_of_the_architecture_page() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawn = re.search(r"^(\w+(?: → \w+)+)$", page, re.MULTILINE)
    assert drawn is not None, "docs/architecture.md no longer draws the apps' direction as a → b → …"
    layers = [c for c in contracts() if c["type"] == "layers"]
    assert len(layers) == 1
    assert layers[0]["layers"] == drawn.group(1).split(" → ")


def test_the_client_and_the_sealing_library_are_forbidden_django() -> None:
    forbidden = [c for c in contracts() if c["type"] == "forbidden" and "django" in c["forbidden_modules"]]
    assert len(forbidden) == 1
    assert set(forbidden[0]["source_modules"]) == {
        "tendering.sealing",
        "tendering.client",
        "evaluation.draw",
        "evaluation.draw_check",
        "evaluation.report_check",
        "archive.verify",
    }


def test_no_package_may_have_an_import_circle_among_its_modules() -> None:
    acyclic = [c for c in contracts() if c["type"] == "acyclic_siblings"]
    assert len(acyclic) == 1
    assert set(acyclic[0]["ancestors"]) == {"config", "accounts", "archive", "tendering", "evaluation", "frontend"}
