"""Plan versions 5 to 7: sample i from i alone (no per-sample state), exact counts, no repeated faces while
combinations are left, reals over every file of their split before one repeats, pairs that a redraw cannot
make stale, and plans too large for one dataset refused with the reason."""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter

import numpy as np
import pytest
from test_plan import _index, _plan

from synthfake.errors import PlanError
from synthfake.plan import MAX_SAMPLES, Plan, SampleTable
from synthfake.plan_counts import largest_remainder
from synthfake.plan_perm import Permutation
from synthfake.shared_types import LANDMARK_BACKENDS, PAIR_ROLE

MIX = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 0.5, "self_blend": 0.5}}


def _target(spec):
    return next((it for it, r in spec.sources if r == PAIR_ROLE[spec.type]), None)


def test_the_permutation_is_a_bijection_with_its_inverse_and_one_vectorised_twin():
    for n in (1, 2, 3, 7, 64, 1000, 4099):
        p = Permutation(n, 5, 11)
        ys = [p(x) for x in range(n)]
        assert sorted(ys) == list(range(n))
        assert [p.inverse(y) for y in ys] == list(range(n))
        assert p.array(np.arange(n)).tolist() == ys
    big = Permutation(10**12, 1)
    assert big.inverse(big(123456789)) == 123456789
    assert Permutation(100, 1)(5) != Permutation(100, 2)(5) or Permutation(100, 1)(6) != Permutation(100, 2)(6)


def test_the_layout_places_every_index_once_with_exact_counts():
    index = _index()
    table = SampleTable(_plan(index, n=97, reals=61, backends=MIX), index)
    lay = table.layout
    seen = Counter()
    for i in range(table.total):
        g, k = lay.locate(i)
        assert 0 <= k < g.count and lay.index_of(g, k) == i
        seen[(g.type, g.backend, g.split)] += 1
    assert seen == table.group_counts()
    types = largest_remainder(97, table.plan.ratios)
    assert {t: c for t, c in table.expected.items() if t != "real"} == types and table.expected["real"] == 61
    for (t, b, _), c in seen.items():  # every (type, backend) is split exactly
        if t != "real":
            per_backend = largest_remainder(types[t], table.plan.mix(t))[b]
            assert sum(v for (t2, b2, _), v in seen.items() if (t2, b2) == (t, b)) == per_backend
    idx = np.arange(table.total)
    assert table.types_of(idx).tolist() == [table.type_of(i) for i in idx]
    assert table.types_of(idx).tolist() == [table.spec(i).type for i in idx]


def test_fakes_repeat_no_faces_while_combinations_are_left():
    """Within a group (type, backend, split), the fakes of one target person take distinct combinations of people
    for their other roles until that target's combinations are used up; with a roomy split, none repeats."""
    for index, n in ((_index(n_people=24, videos=10), 120), (_index(), 400)):
        table = SampleTable(_plan(index, n=n, reals=0), index)
        by_target: dict = {}
        for i in range(table.total):
            s = table.spec(i)
            g, _ = table.layout.locate(i)
            target, others = _target(s), []
            for it, r in s.sources:  # the required roles: the first of each name (a morph's third parent is optional)
                if it is not target and r not in [o[0] for o in others]:
                    others.append((r, it.identity))
            by_target.setdefault((g, target.identity if target else None), []).append(tuple(others))
        for (g, person), combos in by_target.items():
            available = table._combos(g, person)[1]
            assert len(set(combos)) == min(len(combos), available), (g, person, combos, available)
    roomy = SampleTable(_plan(_index(n_people=60, videos=24), n=60, reals=0), _index(n_people=60, videos=24))
    swaps = [roomy.spec(i) for i in range(roomy.total) if roomy.type_of(i) in ("face_swap", "reenactment")]
    pairs = [(s.backend, s.split, tuple((r, it.identity) for it, r in s.sources)) for s in swaps]
    assert len(set(pairs)) == len(pairs)


def test_two_backends_of_a_type_draw_as_one_group():
    """Plan version 6 (`family`): the backends of a type that take the same roles draw their people as one group,
    so landmark_swap and aligned_swap do not put one source on one target while other combinations are left
    (version 5 drew each backend apart, and a mixed plan made such twins); a type with one backend draws as in
    version 5, and every real still pairs with a fake on its own file and clip."""
    index = _index(n_people=24, videos=10)
    mix = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 0.5, "aligned_swap": 0.5}}

    def twins(version):
        table = SampleTable(_plan(index, n=120, reals=120, backends=mix, version=version), index)
        specs = [table.spec(i) for i in range(table.total)]
        swaps = Counter((s.split, tuple((r, it.identity) for it, r in s.sources)) for s in specs
                        if s.type == "face_swap")
        return sum(c - 1 for c in swaps.values()), table, specs

    before, _, _ = twins(5)
    after, table, specs = twins(6)
    print(f"\n  swaps onto the same people twice: version 5 {before}, version 6 {after}")
    assert before > 0 and after == 0
    fakes = {s.id: s for s in specs if s.type != "real"}
    for r in (s for s in specs if "paired_with" in s.params):
        fake = fakes[r.params["paired_with"]]
        assert _target(fake).path == r.sources[0][0].path and fake.split == r.split
        assert {k: fake.params.get(k) for k in ("clip_start", "clip_frames")} == \
            {k: r.params.get(k) for k in ("clip_start", "clip_frames")}
    assert sum(1 for s in specs if "paired_with" in s.params) >= 0.6 * 120
    one = {**LANDMARK_BACKENDS, "face_swap": {"aligned_swap": 1.0}}  # one backend a type: version 5's draws
    v5, v6 = (SampleTable(_plan(index, n=60, reals=0, backends=one, version=v), index) for v in (5, 6))
    assert all(v5.spec(i).sources == v6.spec(i).sources and v5.spec(i).params == v6.spec(i).params
               for i in range(v5.total))


def test_reals_cover_every_file_of_their_split_before_one_repeats_and_stay_paired():
    """Versions 5 and 6 (version 7 takes the fakes' files instead, below)."""
    index = _index()
    for n, reals in ((20, 30), (100, 100), (100, 40)):
        table = SampleTable(_plan(index, n=n, reals=reals, version=6), index)
        specs = [table.spec(i) for i in range(table.total)]
        fakes = {s.id: s for s in specs if s.type != "real"}
        for split in table.plan.splits:
            paths = Counter(s.sources[0][0].path for s in specs if s.type == "real" and s.split == split)
            files = [it.path for it in table.pools[split]["face"]]
            if not paths:
                continue
            counts = [paths.get(f, 0) for f in files]
            assert max(counts) - min(counts) <= 1, (split, paths)  # no file twice while another is unused
        named = Counter(s.params["paired_with"] for s in specs if "paired_with" in s.params)
        assert not named or max(named.values()) == 1  # a fake pairs with one real at most
        for r in (s for s in specs if "paired_with" in s.params):
            fake = fakes[r.params["paired_with"]]
            for attempt in range(4):  # whichever attempt the fake's record holds, the pair is its target
                f = table.spec(fake.index, attempt)
                assert _target(f).path == r.sources[0][0].path and f.split == r.split
                assert {k: f.params.get(k) for k in ("clip_start", "clip_frames")} == \
                    {k: r.params.get(k) for k in ("clip_start", "clip_frames")}
            assert r.degrade_key == fake.index
        paired = sum(1 for s in specs if "paired_with" in s.params)
        print(f"\nn={n} reals={reals}: {paired} paired")
        assert paired >= 0.6 * min(n, reals)


def test_a_redraw_keeps_target_and_clip_and_takes_other_people():
    index = _index(n_people=24, videos=10)
    table = SampleTable(_plan(index, n=60, reals=0), index)
    changed = 0
    for i in range(table.total):
        first, again = table.spec(i), table.spec(i, 1)
        assert (again.type, again.backend, again.split, again.id) == (first.type, first.backend, first.split, first.id)
        if _target(first) is not None:
            assert _target(again).path == _target(first).path
            assert {k: again.params.get(k) for k in ("clip_start", "clip_frames")} == \
                {k: first.params.get(k) for k in ("clip_start", "clip_frames")}
        changed += again.sources != first.sources
        assert again.seed != first.seed and table.spec(i, 1).sources == again.sources
    assert changed >= 0.9 * table.total


def test_sample_i_is_pure_and_nothing_is_kept_per_sample():
    index = _index()
    a, b = SampleTable(_plan(index, n=60, reals=60), index), SampleTable(_plan(index, n=60, reals=60), index)
    assert [a.spec(i) for i in (0, 17, 119)] == [b.spec(i) for i in (0, 17, 119)]
    tracemalloc.start()
    t0 = time.perf_counter()
    big = SampleTable(_plan(index, n=MAX_SAMPLES // 2, reals=MAX_SAMPLES // 2), index)
    specs = [big.spec(int(i)) for i in np.random.default_rng(0).integers(big.total, size=200)]
    seconds, peak = time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\n{big.total} samples: table and 200 specs in {seconds:.2f} s, peak {peak / 1e6:.1f} MB")
    assert peak < 20e6 and len(specs) == 200
    assert sum(big.group_counts().values()) == big.total


def test_a_plan_larger_than_one_dataset_can_hold_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="more than one dataset can hold"):
        Plan(n=10**9, reals=0, backends=LANDMARK_BACKENDS, sources_digest="x")
    from synthfake.dataset import Dataset

    t0 = time.perf_counter()
    with pytest.raises(PlanError, match="64 bits"):  # before the sources are scanned
        Dataset.prepare(tmp_path / "D", tmp_path / "no-sources", dict(n=10**9, reals=10**9, backends=LANDMARK_BACKENDS),
                        0.4)
    assert time.perf_counter() - t0 < 1 and not (tmp_path / "D").exists()


def test_gen_run_says_why_a_plan_too_large_is_refused_in_one_plain_line(tmp_path):
    from typer.testing import CliRunner

    from synthfake.cli import app

    (tmp_path / "S").mkdir()
    res = CliRunner().invoke(app, ["run", "--n", str(10**9), "--sources", str(tmp_path / "S"),
                                   "--out", str(tmp_path / "D")])
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and not (tmp_path / "D").exists()
    assert len(lines) == 1 and lines[0].startswith("error: --n 1000000000 --reals 1000000000:"), lines
    assert "Value error" not in lines[0] and "'ratios'" not in lines[0]  # the validator's words, not the whole plan


def test_an_old_plan_too_large_for_this_machine_is_refused_before_it_is_built(monkeypatch):
    from synthfake import plan_legacy

    monkeypatch.setattr(plan_legacy, "available_memory", lambda: 10**6)
    index = _index()
    with pytest.raises(PlanError, match="version 4 plan keeps every one"):
        SampleTable(_plan(index, n=1000, reals=1000, version=4), index)
    assert SampleTable(_plan(index, n=1000, reals=1000), index).total == 2000  # version 5 needs nothing per sample


def test_a_redrawn_fake_keeps_the_target_its_real_was_paired_with(photo_sources, tmp_path, monkeypatch):
    """Issue 27: a real must never be `paired_with` a fake recorded on another photo. Every fake fails its quality
    gate at attempt 0 and is drawn again (whichever indices the layout makes fakes); every real's pair still shows
    the real's own photo."""
    from synthfake.errors import SampleFailed

    from synthfake.dataset import Dataset
    from synthfake.generators import landmark_swap
    from synthfake.manifest import read_records
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard
    from synthfake.sources import IDENTITY_THRESHOLD

    real_generate = landmark_swap.generate

    def flaky(sample, sources, out_stem, ctx):
        if sample.attempt == 0:
            raise SampleFailed(f"planted: attempt 0 of sample {sample.index}")
        return real_generate(sample, sources, out_stem, ctx)

    monkeypatch.setattr(landmark_swap, "generate", flaky)
    ds = Dataset.prepare(tmp_path / "D", photo_sources, dict(n=4, reals=4, ratios={"face_swap": 0.3},
                                                            backends={"face_swap": "landmark_swap", "real": "reencode"},
                                                            splits={"train": 1.0, "val": 0.0, "test": 0.0}),
                         IDENTITY_THRESHOLD)
    ds.save()
    assert Shard(ds, RunSettings(show_progress=False), 0, 1).run().failed == 0
    recs = {r.id: r for r in read_records(ds.root)}
    pairs = [(r, recs[r.params["paired_with"]]) for r in recs.values() if "paired_with" in r.params]
    assert pairs and all(fake.attempt == 1 for _, fake in pairs)  # every pair's fake was redrawn
    for real, fake in pairs:
        target = next(s for s in fake.sources if s.role == "target")
        assert (target.path, target.sha256) == (real.sources[0].path, real.sources[0].sha256), (real.id, fake.attempt)


def _made_as(spec) -> str:
    """What a sample is shown as: a photo, or a clip."""
    if spec.type == "real":
        return "image" if spec.sources[0][0].kind == "image" or spec.params.get("still") else "video"
    if spec.type in ("reenactment", "lip_sync"):
        return "video"
    return "image" if spec.type == "generation" else _target(spec).kind


def test_version_7_reals_are_their_fakes_files_photos_and_clips_in_the_fakes_share():
    """Version 6's reals went over every file of their split once, while reenactment and lip sync fakes are
    clips: 41 % of README command 1's fakes were clips against 26 % of its reals, a media kind a detector's
    photo and clip heads learned as a label (audit kind AUC 0.57-0.64 on four datasets). Version 7's reals are
    the files their fakes were made on, paired, so each split holds photos and clips alike on both sides."""
    index = _index()
    t2i = {**LANDMARK_BACKENDS, "generation": {"morph": 0.5, "diffusers_t2i": 0.5}}
    for n, reals, backends in ((100, 100, MIX), (100, 40, MIX), (20, 30, MIX), (60, 60, t2i)):
        table = SampleTable(_plan(index, n=n, reals=reals, backends=backends), index)
        assert table.plan.version >= 7
        specs = [table.spec(i) for i in range(table.total)]
        fakes = {s.id: s for s in specs if s.type != "real"}
        named = Counter(s.params["paired_with"] for s in specs if "paired_with" in s.params)
        assert max(named.values()) == 1  # a fake pairs with one real at most
        for split in table.plan.splits:
            here = [s for s in specs if s.split == split]
            shown = {lab: Counter(_made_as(s) for s in here if (s.type == "real") == (lab == "real"))
                     for lab in ("real", "fake")}
            pairs = [s for s in here if "paired_with" in s.params]
            if reals == n:
                assert shown["real"] == shown["fake"], (split, shown)
            for r in pairs:
                fake = fakes[r.params["paired_with"]]
                assert _target(fake).path == r.sources[0][0].path and fake.split == split
                assert {k: fake.params.get(k) for k in ("clip_start", "clip_frames")} == \
                    {k: r.params.get(k) for k in ("clip_start", "clip_frames")}
        sourced = sum(1 for s in fakes.values() if s.backend != "diffusers_t2i")
        if reals >= n:  # every fake made on a file paired; beyond the fakes, the same targets unpaired
            assert len(named) == sourced
        elif sourced == n:  # fewer reals than fakes: every real paired
            assert len(named) == reals

