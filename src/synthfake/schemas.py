"""The JSON Schemas of a record, a failure and a plan, exported from their pydantic models; `manifests/` holds
the committed copy (`python -m synthfake.schemas manifests/`), which ships in the package (`packaged_schema`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .manifest import Failure, Record
from .plan import Plan


def export_schemas(folder: str | Path) -> list[Path]:
    """Write record.schema.json, failure.schema.json and plan.schema.json to `folder`."""
    out = []
    for name, model in (("record", Record), ("failure", Failure), ("plan", Plan)):
        p = Path(folder) / f"{name}.schema.json"
        p.write_text(json.dumps(model.model_json_schema(), indent=1, sort_keys=True) + "\n")
        out.append(p)
    return out


def packaged_schema(name: str) -> dict:
    """The shipped JSON Schema `name` (record, failure or plan), as an installed synthfake holds it."""
    from importlib import resources

    return json.loads(resources.files("synthfake.manifests").joinpath(f"{name}.schema.json").read_text())


if __name__ == "__main__":
    for p in export_schemas(sys.argv[1] if len(sys.argv) > 1 else "manifests"):
        print(p)
