"""Plans written by versions 2, 3 and 4 keep their ids and samples: every first draw, some redraws, a backend mix
and people who wear glasses, against tests/fixtures/plan_v2_v4_samples.json (made by the code of commit 7506d2f,
before plan version 5: `python tests/test_plan_golden.py` writes it again, which only that code may do)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from test_plan import _index, _plan

from synthfake.plan import Plan, SampleTable
from synthfake.shared_types import LANDMARK_BACKENDS

FIXTURE = Path(__file__).parent / "fixtures" / "plan_v2_v4_samples.json"
MIX = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 0.5, "self_blend": 0.5}}
REDRAWN = (0, 1, 2, 3, 5, 8, 13, 21, 34)  # indices whose attempts 1 and 2 are kept too


def golden_index():
    """test_plan's index with two people who wear glasses (v0/v1's videos score above glasses.VIDEO_MAX)."""
    index = _index(n_people=12, videos=6)
    for it in index.items:
        if it.kind != "audio":
            it.glasses = {"v0.mp4": 1.4, "v1.mp4": 1.45}.get(it.path, 0.3)
    return index


def cases(index) -> dict[str, Plan]:
    return {f"v{v}{'_mix' if mix else ''}": _plan(index, n=40, reals=50, seed=5, version=v,
                                                    **({"backends": MIX} if mix else {}))
            for v in (2, 3, 4) for mix in (False, True)}


def rows(table: SampleTable) -> list[dict]:
    def row(i: int, attempt: int = 0) -> dict:
        s = table.spec(i, attempt)
        return {"index": s.index, "attempt": attempt, "id": s.id, "type": s.type, "backend": s.backend,
                "split": s.split, "seed": s.seed, "sources": [[it.path, r] for it, r in s.sources],
                "params": s.params, "degrade_key": s.degrade_key}
    total = table.plan.n + table.plan.reals
    return [row(i) for i in range(total)] + [row(i, a) for i in REDRAWN for a in (1, 2)]


def written(plan: Plan) -> Plan:
    """The plan as read back from plan.json (sorted keys), so its hash and drawing order are a dataset's."""
    data = json.loads(json.dumps(plan.model_dump(), sort_keys=True))
    out = Plan.model_validate(data)
    out._written = data
    return out


def test_plans_of_versions_2_to_4_draw_what_they_drew():
    golden = json.loads(FIXTURE.read_text())
    index = golden_index()
    for name, plan in cases(index).items():
        case = golden["cases"][name]
        plan = written(plan)
        assert plan.model_dump() == Plan.model_validate(case["plan"]).model_dump(), name
        table = SampleTable(plan, index)
        got = rows(table)
        for a, b in zip(got, case["samples"]):
            assert a == b, (name, a, b)
        assert len(got) == len(case["samples"]), name


if __name__ == "__main__":  # made once, by the code before plan version 5
    index = golden_index()
    out = {"made_by": sys.argv[1] if len(sys.argv) > 1 else "unknown", "cases": {}}
    for name, plan in cases(index).items():
        plan = written(plan)
        out["cases"][name] = {"plan": plan.model_dump(), "samples": rows(SampleTable(plan, index))}
    FIXTURE.write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE}: {sum(len(c['samples']) for c in out['cases'].values())} samples")
