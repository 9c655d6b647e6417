"""The benches' shared report (bench/common.py): goals met or not, the rows ``make bench`` collects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import ROWS_ENV, Row, emit, read_rows, rows_table

ROOT = Path(__file__).resolve().parents[2]


def test_a_goal_is_met_only_on_its_side_of_the_limit() -> None:
    assert Row("b", "m", "s", "base", 1.4, "<= 1.5").met is True
    assert Row("b", "m", "s", "base", 1.6, "<= 1.5").met is False
    assert Row("b", "m", "s", "base", 0.6, ">= 0.6").met is True
    assert Row("b", "m", "s", "base", 0.59, "≥ 0.6").met is False
    assert Row("b", "m", "s", "base", 0.9, "≤ 1 s", unit="s").met is True


def test_a_figure_without_a_goal_or_without_a_value_is_neither_met_nor_not_met() -> None:
    assert Row("b", "m", "s", "base", 3.0).met is None
    assert Row("b", "m", "s", "base", float("nan"), "<= 1.5").met is None


def test_the_table_has_one_line_per_row_with_its_verdict_and_the_notes_after_it() -> None:
    rows = [
        Row("opening_throughput", "opening, filesystem", "decrypt_bid", "raw crypto", 16.38, "<= 1.5"),
        Row("submit_throughput", "submit, 32 MiB", "etender submit", "raw put", 0.71, ">= 0.6", note="RGW bound"),
        Row("object_store_put", "S3 put", "store", "raw", 0.8),
    ]
    lines = rows_table(rows).splitlines()
    assert lines[0] == "| bench | measure | subject | baseline | ratio | goal | met |"
    assert lines[2] == (
        "| opening_throughput | opening, filesystem | decrypt_bid | raw crypto | 16.38 | ≤ 1.5 | not met |"
    )
    assert lines[3].endswith("| 0.71 | ≥ 0.6 | met |")
    assert lines[4].endswith("| 0.80 | — | — |")
    assert lines[5] == "- submit_throughput, submit, 32 MiB: RGW bound"


def test_emitted_rows_are_appended_to_the_file_make_bench_collects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "rows.jsonl"
    monkeypatch.setenv(ROWS_ENV, str(target))
    first = [Row("a", "m1", "s", "b", 1.0, "<= 2")]
    second = [Row("b", "m2", "s", "", 0.5, ">= 0.6", unit="s", note="why")]
    emit(first)
    emit(second)
    assert read_rows(target) == first + second
    assert [json.loads(line)["bench"] for line in target.read_text().splitlines()] == ["a", "b"]
    assert "| a | m1 | s | b | 1.00 | ≤ 2 | met |" in capsys.readouterr().out


def test_make_bench_lists_a_short_run_of_every_bench_script() -> None:
    listed = subprocess.run(
        [sys.executable, "bench/run_all.py", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    scripts = {line.split("bench/", 1)[1].split(".py", 1)[0] for line in listed.splitlines()}
    expected = {p.stem for p in (ROOT / "bench").glob("*.py")} - {
        "common",
        "live",
        "sealed_opening",
        "run_all",
    }  # shared modules, the runner
    assert scripts == expected


def test_make_bench_refuses_an_unknown_run_and_runs_nothing() -> None:
    result = subprocess.run(
        [sys.executable, "bench/run_all.py", "--only", "no_such_bench"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown runs: no_such_bench" in result.stderr
    assert "===" not in result.stdout
