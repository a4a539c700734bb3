"""The plan: exact counts, identity splits, purity of sample i, pairing of reals, clear small-pool errors."""

from __future__ import annotations

from collections import Counter

import pytest

from synthfake.errors import PlanError
from synthfake.plan import SampleTable, Plan
from synthfake.shared_types import DEFAULT_RATIOS, LANDMARK_BACKENDS
from synthfake.plan_counts import largest_remainder, split_identity_counts
from synthfake.sources import SourceIndex, SourceItem


def _item(path, identity, kind="image"):
    return SourceItem(path=path, kind=kind, sha256=path, identity=identity, frames=250 if kind == "video" else 1,
                      fps=25.0, landmarks=[[0.0, 0.0]] * 68 if kind != "audio" else None)


def _index(n_people=9, videos=6):
    items = [_item(f"v{k}.mp4", f"p{k}", "video") for k in range(videos)]
    items += [_item(f"p{k}.jpg", f"p{k}") for k in range(n_people)]
    items += [_item("a.wav", "voice:a", "audio")]
    return SourceIndex(root="/nowhere", items=items)


def _plan(index, **kw):
    base = dict(n=100, reals=100, seed=0, ratios=DEFAULT_RATIOS, backends=LANDMARK_BACKENDS,
                splits={"train": 0.7, "val": 0.15, "test": 0.15}, sources_digest=index.digest)
    return Plan(**{**base, **kw})


def test_largest_remainder_is_exact():
    assert largest_remainder(100, DEFAULT_RATIOS) == {"generation": 40, "face_swap": 30, "reenactment": 20,
                                                      "lip_sync": 10}
    assert largest_remainder(12, DEFAULT_RATIOS) == {"generation": 5, "face_swap": 4, "reenactment": 2,
                                                     "lip_sync": 1}
    for n in range(0, 50):
        assert sum(largest_remainder(n, {"a": 0.33, "b": 0.33, "c": 0.34}).values()) == n
    assert split_identity_counts(9, {"train": 0.7, "val": 0.15, "test": 0.15}) == {"train": 6, "val": 2, "test": 1}
    assert split_identity_counts(3, {"train": 0.8, "val": 0.1, "test": 0.1}) == {"train": 1, "val": 1, "test": 1}


def test_counts_splits_and_identities():
    index = _index()
    lay = SampleTable(_plan(index), index)
    specs = [lay.spec(i) for i in range(200)]
    counts = Counter(s.type for s in specs)
    assert counts == {"generation": 40, "face_swap": 30, "reenactment": 20, "lip_sync": 10, "real": 100}
    for s in specs:
        faces_ = [it.identity for it, role in s.sources if role != "audio"]
        assert len(faces_) == len(set(faces_)), s  # distinct identities within a sample
        assert all(lay.identity_split[i] == s.split for i in faces_), s  # all from the sample's split
    owners = {}
    for ident, split in lay.identity_split.items():
        owners.setdefault(ident, set()).add(split)
    assert all(len(v) == 1 for v in owners.values())
    for t, c in DEFAULT_RATIOS.items():  # per type, the split counts are exact too
        got = Counter(s.split for s in specs if s.type == t)
        assert dict(got) == {k: v for k, v in largest_remainder(int(100 * c), lay.plan.splits).items() if v}


def test_sample_i_is_a_pure_function():
    index = _index()
    a, b = SampleTable(_plan(index), index), SampleTable(_plan(index), index)
    for i in (0, 7, 55, 199):
        sa, sb = a.spec(i), b.spec(i)
        assert (sa.id, sa.type, sa.split, sa.seed, sa.params) == (sb.id, sb.type, sb.split, sb.seed, sb.params)
        assert [(it.path, r) for it, r in sa.sources] == [(it.path, r) for it, r in sb.sources]
    other = SampleTable(_plan(index, seed=1), index)
    assert [other.spec(i).id for i in range(5)] != [a.spec(i).id for i in range(5)]


def test_reals_are_paired_with_fake_targets():
    index = _index()
    lay = SampleTable(_plan(index, version=1), index)  # version 1: reals drawn with replacement
    reals = [lay.spec(int(i)) for i in lay.reals]
    paired = [r for r in reals if "paired_with" in r.params]
    assert len(paired) >= 55  # generation with a base photo pairs too; only sources-free backends would not
    fakes = {lay.spec(int(i)).id: lay.spec(int(i)) for i in lay.fakes}
    for r in paired:
        f = fakes[r.params["paired_with"]]
        target = [it for it, role in f.sources if role in ("target", "driving", "base")][0]
        assert r.sources[0][0].path == target.path and r.split == f.split
        assert r.params.get("clip_start") == f.params.get("clip_start")


def test_too_small_pool_is_a_clear_plan_error():
    index = _index(n_people=2, videos=1)
    with pytest.raises(PlanError) as e:
        SampleTable(_plan(index), index)
    msg = str(e.value)
    print("\n" + msg)
    assert "split" in msg and "change the split fractions" in msg


def test_a_plan_without_speech_asks_for_speech_not_faces():
    """Faces and clips enough, no audio: the error ended "Add face sources", which was not what was missing."""
    index = _index()
    index.items = [it for it in index.items if it.kind != "audio"]
    with pytest.raises(PlanError) as e:
        SampleTable(_plan(index, version=1), index)
    assert "lip_sync needs a speech audio file. Add speech audio (a recording of someone talking), or" in str(e.value)


@pytest.mark.parametrize("version", [1, None])
def test_a_plan_short_of_faces_says_what_the_scan_kept_out(version):
    """A sources folder of symlinks to files elsewhere is all kept out; the error said only "0 face identities"."""
    index = _index(n_people=2, videos=1)
    index.items += [SourceItem(path=f"l{k}.jpg", kind="image", excluded=f"symlink to /elsewhere/l{k}.jpg, outside "
                               "the sources root (not followed)") for k in range(3)]
    index.items += [SourceItem(path="c.jpg", kind="image", excluded="same content as p0.jpg"),
                    SourceItem(path="n.jpg", kind="image", excluded="no face found in 1 sampled frame(s)")]
    with pytest.raises(PlanError) as e:
        SampleTable(_plan(index, **({"version": version} if version else {})), index)
    msg = str(e.value)
    assert ("(5 of the 9 file(s) under /nowhere were kept out: 3 x symlink to a file outside the sources root "
            "(not followed: copy the files in, or give --sources the folder they lead to); 1 x copy of another file; "
            "1 x no face found in N sampled frame(s); `gen sources scan /nowhere` lists each)") in msg


def _repeats(table, where=lambda s: True) -> int:
    """Fakes whose (backend, split, role/path sources) equal an earlier fake's."""
    seen, out = set(), 0
    for i in table.indices(real=False):
        s = table.spec(int(i))
        key = (s.backend, s.split, tuple((r, it.path) for it, r in s.sources))
        out += key in seen and where(s)
        seen.add(key)
    return out


def test_fakes_do_not_repeat_sources_until_they_run_out():
    """Plan version 3: two fakes of one backend and split make the same manipulation of the same faces only
    when that split has few combinations (version 2 drew them independently: repeats by chance). Version 5 keeps
    this without a pass over earlier samples (test_plan_indexed.py)."""
    index = _index()
    old, new = SampleTable(_plan(index, version=2), index), SampleTable(_plan(index, version=4), index)
    roomy = lambda s: s.split == "train" and s.type in ("face_swap", "generation")  # noqa: E731 - 9 faces: 72 pairs
    print(f"\nrepeats: version 2 {_repeats(old)} ({_repeats(old, roomy)} where combinations abound), "
          f"version 3 {_repeats(new)} ({_repeats(new, roomy)})")
    assert _repeats(old, roomy) > 0 and _repeats(new, roomy) == 0
    assert _repeats(new) < _repeats(old)
    assert [(new.spec(int(i)).type, new.split_of[int(i)], new.backend(int(i))) for i in new.fakes] == \
        [(old.spec(int(i)).type, old.split_of[int(i)], old.backend(int(i))) for i in old.fakes]  # only sources move
    again = SampleTable(_plan(index, version=4), index)
    assert [again.spec(int(i)).sources for i in again.fakes] == [new.spec(int(i)).sources for i in new.fakes]
    from synthfake.plan_fakes import combination
    for i in [int(i) for i in new.fakes if roomy(new.spec(int(i)))][:20]:  # a redraw takes other faces than its
        assert combination(new.spec(i, 1), "path") != combination(new.spec(i), "path")
        assert new.spec(i, 1).sources == again.spec(i, 1).sources
