"""The committed JSON Schemas in manifests/ match the pydantic models, and example plans validate."""

from __future__ import annotations

import json
from pathlib import Path

from synthfake.schemas import export_schemas
from synthfake.plan import Plan

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"


def test_schemas_match_the_models(tmp_path):
    for fresh in export_schemas(tmp_path):
        committed = MANIFESTS / fresh.name
        assert json.loads(committed.read_text()) == json.loads(fresh.read_text()), (
            f"{committed} is stale: run python -m synthfake.schemas manifests/")


def test_example_plans_validate():
    plans = sorted(MANIFESTS.glob("plan.*_*.json"))
    assert plans
    for p in plans:
        Plan.model_validate_json(p.read_text())
