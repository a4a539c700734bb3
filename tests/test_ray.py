"""`--executor ray` runs the same shards as Ray tasks (needs the [ray] extra; skipped without it)."""

from __future__ import annotations

import importlib.util

import pytest

from synthfake.manifest import read_records

from conftest import gen

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                reason="Ray is not installed (pip install 'synthfake[ray]')")


def test_ray_executor_makes_every_shard(photo_sources, tmp_path):
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--n", 6, "--reals", 0, "--executor", "ray", "--world-size", 2,
        "--sources", photo_sources, "--out", out, "--quiet")
    recs = read_records(out)
    assert sorted(r.index for r in recs) == list(range(6))
    assert {(r.rank, r.world_size) for r in recs} == {(0, 2), (1, 2)}
