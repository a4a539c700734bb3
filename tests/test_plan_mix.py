"""Backend mixes with exact counts, redraws after a failed quality gate, backend options in plan.json, reals
without replacement, plan-time warnings, and plans written before these existed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from test_plan import _index, _plan

from synthfake.dataset import Dataset
from synthfake.errors import SampleFailed, SynthfakeError
from synthfake.manifest import read_failures, read_records
from synthfake.plan import Plan, SampleTable
from synthfake.shared_types import LANDMARK_BACKENDS
from synthfake.plan_counts import largest_remainder
from synthfake.plan_options import parse_backend_opts, parse_backends, plan_warnings
from synthfake.sources import IDENTITY_THRESHOLD

from conftest import gen
from model_checks import model_env

FIXTURES = Path(__file__).parent / "fixtures"
MIX = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 0.5, "self_blend": 0.5},
       "generation": {"morph": 0.7, "diffusers_t2i": 0.3}}


def test_a_mix_gives_exact_counts_per_type_and_backend():
    index = _index()
    for n in (10, 37, 100):
        table = SampleTable(_plan(index, n=n, reals=n, backends=MIX), index)
        specs = [table.spec(i) for i in range(2 * n)]
        got = Counter((s.type, s.backend) for s in specs)
        types = largest_remainder(n, table.plan.ratios)
        for t in ("face_swap", "generation"):
            assert {b: got[(t, b)] for b in MIX[t]} == largest_remainder(types[t], MIX[t])
        assert got[("reenactment", "landmark_reenact")] == types["reenactment"]
        assert all(s.sources == [] for s in specs if s.backend == "diffusers_t2i")  # its own ROLES
        assert all([r for _, r in s.sources] == ["target"] for s in specs if s.backend == "self_blend")
    again = SampleTable(_plan(index, n=100, reals=100, backends=MIX), index)
    assert [again.spec(i).backend for i in range(200)] == [s.backend for s in specs]  # sample i is pure
    planned = Counter()  # the audit's reference counts per backend
    for (_, b, _), c in again.group_counts().items():
        planned[b] += c
    assert planned == Counter(s.backend for s in specs)


def test_backend_flags_parse_to_a_mix_or_a_plain_name():
    ratios = {"face_swap": 0.3}
    assert parse_backends({"face_swap": "self_blend"}, ratios) == {"face_swap": "self_blend", "real": "reencode"}
    assert parse_backends({"face_swap": "landmark_swap:0.5,self_blend:0.5"}, ratios)["face_swap"] == {
        "landmark_swap": 0.5, "self_blend": 0.5}
    assert parse_backends({"face_swap": "self_blend:2"}, ratios)["face_swap"] == "self_blend"  # one: plain
    for bad in ({"face_sawp": "x"}, {"face_swap": "a:0,b:1"}, {"face_swap": "a:x"}, {"face_swap": "a,a"}):
        with pytest.raises(SynthfakeError):
            parse_backends(bad, ratios)
    used = {"lip_sync": "wav2lip", "real": "reencode"}
    assert parse_backend_opts(["wav2lip.model=wav2lip_96"], used) == ({"wav2lip": {"model": "wav2lip_96"}}, {})
    for bad, says in (("wav2lip.model=nope", "expected one of"), ("wav2lip.modle=x", "unknown option"),
                      ("nosuch.model=x", "backend 'nosuch': unknown"),
                      ("liveportrait.driving=pose-friendly", "not in this plan"),
                      ("wav2lip=x", "expected NAME.key=value")):
        with pytest.raises(SynthfakeError, match=says):
            parse_backend_opts([bad], used)


def test_a_backend_opt_flag_given_twice_is_refused_a_recipe_s_value_is_overridden(tmp_path, monkeypatch):
    """`--backend-opt wav2lip.model=A --backend-opt wav2lip.model=B`: the last won without a word. A key repeated
    with another value is one line naming it and both values (exit 2, nothing written); the same value twice, or
    a flag over a recipe's value, is fine."""
    from typer.testing import CliRunner

    import synthfake.cli as cli_mod
    from synthfake.cli import app
    from synthfake.errors import EXIT_USAGE

    used = {"lip_sync": "wav2lip", "real": "reencode"}
    with pytest.raises(SynthfakeError, match="--backend-opt wav2lip.model: given twice, 'wav2lip_96' and "
                                             "'wav2lip_gan_96'"):
        parse_backend_opts(["wav2lip.model=wav2lip_96", "wav2lip.model=wav2lip_gan_96"], used)
    assert parse_backend_opts(["wav2lip.model=wav2lip_96"] * 2, used) == ({"wav2lip": {"model": "wav2lip_96"}}, {})
    seen = []
    monkeypatch.setattr(cli_mod, "_check_ready", lambda fields, ctx: None)
    monkeypatch.setattr(cli_mod, "_launch", lambda config, launcher: seen.append(config) or 0)
    (tmp_path / "src").mkdir()
    run = ("run", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "d"), "--type", "lip_sync",
           "--backend", "lip_sync=wav2lip")
    r = CliRunner().invoke(app, [*run, "--backend-opt", "wav2lip.model=wav2lip_96", "--backend-opt",
                                 "wav2lip.model=wav2lip_gan_96"])
    assert r.exit_code == EXIT_USAGE and len(r.output.strip().splitlines()) == 1, r.output
    assert "wav2lip.model: given twice, 'wav2lip_96' and 'wav2lip_gan_96'" in r.output and not seen
    assert not (tmp_path / "d").exists()
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"backend_opts": ["wav2lip.model=wav2lip_96"]}))
    r = CliRunner().invoke(app, [*run, "--recipe", str(recipe), "--backend-opt", "wav2lip.model=wav2lip_gan_96"])
    assert r.exit_code == 0, r.output
    assert seen[-1].plan_fields["backend_opts"] == {"wav2lip": {"model": "wav2lip_gan_96"}}  # the flag wins


def test_a_backend_opt_flag_beside_a_recipe_replaces_its_key_only(tmp_path, monkeypatch):
    """`--recipe R --backend-opt http_t2i.model=B` where R sets http_t2i.url and http_t2i.model: the flag replaced
    R's whole backend_opts list, so its url (and its run options) fell back to the defaults without a word. Now the
    flag's key wins and R's other keys stay, in plan.json and in the run's options."""
    from typer.testing import CliRunner

    import synthfake.cli as cli_mod
    from synthfake.cli import app

    seen = []
    monkeypatch.setattr(cli_mod, "_check_ready", lambda fields, ctx: None)
    monkeypatch.setattr(cli_mod, "_launch", lambda config, launcher: seen.append(config) or 0)
    (tmp_path / "src").mkdir()
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"types": ["generation"], "backends": ["generation=http_t2i"],
                                  "backend_opts": ["http_t2i.url=http://127.0.0.1:9", "http_t2i.model=flux-dev",
                                                   "http_t2i.retries=0"]}))
    run = ("run", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "d"), "--recipe", str(recipe))
    r = CliRunner().invoke(app, [*run, "--backend-opt", "http_t2i.model=flux-pro", "--backend-opt",
                                 "http_t2i.timeout=5"])
    assert r.exit_code == 0, r.output
    assert seen[-1].plan_fields["backend_opts"] == {"http_t2i": {"url": "http://127.0.0.1:9", "model": "flux-pro"}}
    assert seen[-1].settings.backend_opts == {"http_t2i": {"retries": 0, "timeout": 5.0}}
    r = CliRunner().invoke(app, list(run))  # no flag: the recipe's list as it is
    assert r.exit_code == 0, r.output
    assert seen[-1].plan_fields["backend_opts"] == {"http_t2i": {"url": "http://127.0.0.1:9", "model": "flux-dev"}}
    r = CliRunner().invoke(app, [*run, "--backend-opt", "http_t2i.model=a", "--backend-opt", "http_t2i.model=b"])
    assert r.exit_code != 0 and "http_t2i.model: given twice, 'a' and 'b'" in r.output, r.output


def test_a_backend_flag_for_a_type_the_plan_does_not_make_is_refused(tmp_path, monkeypatch):
    """`--type face_swap --backend lip_sync=mouth_sync` (or a recipe without lip_sync): the flag was dropped
    without a word. Now one line names the flag and the types the plan makes (exit 2, before any work); a
    recipe's own backend for a type `--type` leaves out is not the user's flag and stays ignored."""
    from typer.testing import CliRunner

    import synthfake.cli as cli_mod
    from synthfake.cli import app
    from synthfake.errors import EXIT_USAGE

    with pytest.raises(SynthfakeError, match="--backend lip_sync=mouth_sync: this plan makes only face_swap"):
        parse_backends({"lip_sync": "mouth_sync"}, {"face_swap": 0.3})
    # a recipe's entry for lip_sync, not flagged: ignored, as before
    assert parse_backends({"face_swap": "self_blend", "lip_sync": "mouth_sync"}, {"face_swap": 0.3},
                          flagged={"face_swap"}) == {"face_swap": "self_blend", "real": "reencode"}
    seen = []
    monkeypatch.setattr(cli_mod, "_check_ready", lambda fields, ctx: None)
    monkeypatch.setattr(cli_mod, "_launch", lambda config, launcher: seen.append(config) or 0)
    (tmp_path / "src").mkdir()
    run = ("run", "--sources", str(tmp_path / "src"), "--out", str(tmp_path / "d"))
    refused = [(("--type", "face_swap", "--backend", "lip_sync=mouth_sync"), "face_swap fakes"),
               (("--type", "face_swap", "--type", "generation", "--backend", "face_swap=self_blend", "--backend",
                 "lip_sync=mouth_sync"), "generation, face_swap fakes"),
               (("--recipe", "only_face_swap", "--backend", "lip_sync=mouth_sync"), "face_swap fakes"),
               (("--recipe", "all4", "--type", "face_swap", "--backend", "lip_sync=mouth_sync"), "face_swap fakes")]
    for extra, types in refused:
        r = CliRunner().invoke(app, [*run, *extra])
        assert r.exit_code == EXIT_USAGE and len(r.output.strip().splitlines()) == 1, (extra, r.output)
        assert f"--backend lip_sync=mouth_sync: this plan makes only {types} (and reals), no lip_sync" in r.output, (
            extra, r.output)
        assert "add --type lip_sync" in r.output and not seen and not (tmp_path / "d").exists(), extra
    r = CliRunner().invoke(app, [*run, "--recipe", "all4", "--type", "face_swap"])  # the recipe's lip_sync=...
    assert r.exit_code == 0, r.output
    assert seen[-1].plan_fields["backends"] == {"face_swap": "landmark_swap", "real": "reencode"}
    r = CliRunner().invoke(app, [*run, "--recipe", "all4", "--type", "face_swap", "--backend", "face_swap=self_blend"])
    assert r.exit_code == 0, r.output
    assert seen[-1].plan_fields["backends"] == {"face_swap": "self_blend", "real": "reencode"}


def test_weights_download_reads_backend_opts_as_gen_run_does(tmp_path, monkeypatch):
    """`gen weights download --backend-opt` had its own parser: a key given twice with two values let the last win
    without a word. It now goes through gen run's (`read_backend_opts`): same refusal, same text, nothing fetched."""
    from typer.testing import CliRunner

    import synthfake.weights_fetch as fetch_mod
    from synthfake.cli import app
    from synthfake.errors import EXIT_USAGE
    from synthfake.plan_options import read_backend_opts

    fetched = []
    monkeypatch.setattr(fetch_mod, "fetch", lambda spec, *a, **k: fetched.append(spec.name))
    twice = ["wav2lip.model=wav2lip_96", "wav2lip.model=wav2lip_gan_96"]
    with pytest.raises(SynthfakeError) as run_err:
        parse_backend_opts(twice, {"lip_sync": "wav2lip", "real": "reencode"})
    r = CliRunner().invoke(app, ["weights", "download", "wav2lip", "--weights-dir", str(tmp_path / "w"), "--quiet",
                                 "--backend-opt", twice[0], "--backend-opt", twice[1]])
    assert r.exit_code == EXIT_USAGE and len(r.output.strip().splitlines()) == 1, r.output
    assert str(run_err.value) in r.output and not fetched
    for bad in ("wav2lip=x", "wav2lip.modle=x", "nosuch.model=x"):
        with pytest.raises(SynthfakeError) as run_err:
            read_backend_opts([bad], {"wav2lip"})
        r = CliRunner().invoke(app, ["weights", "download", "wav2lip", "--weights-dir", str(tmp_path / "w"),
                                     "--quiet", "--backend-opt", bad])
        assert r.exit_code == EXIT_USAGE and str(run_err.value) in r.output, (bad, r.output)
    assert read_backend_opts(["wav2lip.model=wav2lip_96"] * 2) == {"wav2lip": {"model": "wav2lip_96"}}


def test_mixed_run_records_exact_counts_and_the_mix(photo_sources, tmp_path):
    out = tmp_path / "D"
    gen("run", "--type", "face_swap", "--backend", "face_swap=landmark_swap:0.5,self_blend:0.5", "--n", 4,
        "--reals", 0, "--sources", photo_sources, "--out", out, "--quiet")
    plan = json.loads((out / "plan.json").read_text())
    assert plan["backends"]["face_swap"] == {"landmark_swap": 0.5, "self_blend": 0.5}
    recs = read_records(out)
    assert Counter(r.backend for r in recs) == {"landmark_swap": 2, "self_blend": 2}
    assert all(r.attempt == 0 for r in recs) or all(r.attempt <= plan["redraws"] for r in recs)


def test_unknown_type_or_backend_is_one_line_exit_2(photo_sources, tmp_path):
    for flag in ("face_sawp=landmark_swap", "face_swap=landmark_swap:0.5,nosuch:0.5"):
        proc = gen("run", "--type", "face_swap", "--backend", flag, "--n", 2, "--reals", 0, "--sources",
                   photo_sources, "--out", tmp_path / "D", "--quiet", check=False)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr
        assert not (tmp_path / "D" / "plan.json").exists()


def test_backend_opts_are_recorded_and_a_change_is_refused(photo_sources, tmp_path):
    """Options are part of the plan: a dataset resumed with another model is refused, naming the field."""
    out = tmp_path / "D"
    base = ["run", "--type", "generation", "--backend", "generation=morph:0.5,http_t2i:0.5", "--n", 2,
            "--reals", 0, "--splits", "train=1,val=0,test=0", "--sources", photo_sources, "--out", out, "--quiet"]
    env = model_env(tmp_path / "home", BFL_API_KEY="k" * 24)
    opt = ["--backend-opt", "http_t2i.url=http://127.0.0.1:9", "--backend-opt", "http_t2i.retries=0", "--backend-opt",
           "http_t2i.timeout=0.5", "--backend-opt"]  # run options (retries, timeout): not recorded in the plan
    gen(*base, *opt, "http_t2i.model=flux-dev", env=env, check=False)  # the http sample fails: no server
    plan = json.loads((out / "plan.json").read_text())
    assert plan["backend_opts"] == {"http_t2i": {"url": "http://127.0.0.1:9", "model": "flux-dev"}}
    fails = read_failures(out)
    assert [f.attempts for f in fails] == [1]  # a service failure is not the draw's fault: not redrawn
    proc = gen(*base, *opt, "http_t2i.model=flux-pro", env=env, check=False)
    assert proc.returncode == 2 and "backend_opts" in proc.stderr and "flux-pro" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = gen(*base, *opt, "http_t2i.modle=x", env=env, check=False)
    assert proc.returncode == 2 and "unknown option of backend 'http_t2i'" in proc.stderr


def _flaky(real, fails_until: int, exc=SampleFailed):
    """A backend whose samples with an even index fail their quality gate until attempt `fails_until`."""
    def generate(sample, sources, out_stem, ctx):
        if sample.index % 2 == 0 and sample.attempt < fails_until:
            raise exc(f"planted: attempt {sample.attempt} of sample {sample.index}")
        return real(sample, sources, out_stem, ctx)
    return generate


def _dataset(photo_sources, out: Path) -> Dataset:
    ds = Dataset.prepare(out, photo_sources, dict(n=6, reals=0, ratios={"face_swap": 0.3},
                                                  backends={"face_swap": "landmark_swap", "real": "reencode"},
                                                  splits={"train": 1.0, "val": 0.0, "test": 0.0}, redraws=2),
                         IDENTITY_THRESHOLD)
    ds.save()
    return ds


def test_failed_quality_gates_are_redrawn_deterministically(photo_sources, tmp_path, monkeypatch):
    from synthfake.generators import landmark_swap
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard

    monkeypatch.setattr(landmark_swap, "generate", _flaky(landmark_swap.generate, 2))
    outs = []
    for name in ("a", "b"):
        ds = _dataset(photo_sources, tmp_path / name)
        res = Shard(ds, RunSettings(show_progress=False), 0, 1).run()
        assert (res.done, res.failed) == (6, 0)
        recs = sorted(read_records(ds.root), key=lambda r: r.index)
        assert [r.attempt for r in recs] == [2, 0, 2, 0, 2, 0]
        for r in recs:  # the record holds the redrawn sample: attempt k's sources and seed
            spec = ds.table.spec(r.index, r.attempt)
            assert (r.seed, [s.path for s in r.sources]) == (spec.seed, [it.path for it, _ in spec.sources])
        assert ds.table.spec(0, 1).seed != ds.table.spec(0, 0).seed
        outs.append([(r.id, r.sha256, r.seed, r.params, (ds.root / r.path).read_bytes()) for r in recs])
    assert outs[0] == outs[1]  # same plan, same bytes


def test_redraws_stop_at_the_limit_and_other_errors_are_not_redrawn(photo_sources, tmp_path, monkeypatch):
    from synthfake.generators import landmark_swap
    from synthfake.run_config import RunSettings
    from synthfake.runner import Shard

    monkeypatch.setattr(landmark_swap, "generate", _flaky(landmark_swap.generate, 99))
    ds = _dataset(photo_sources, tmp_path / "a")
    assert Shard(ds, RunSettings(show_progress=False), 0, 1).run().failed == 3
    fails = read_failures(ds.root)
    assert {f.attempts for f in fails} == {3} and all("attempt 2 of" in f.reason for f in fails)
    assert not list(ds.media_root.rglob(".*tmp*"))  # every attempt's temporary files are gone
    monkeypatch.setattr(landmark_swap, "generate", _flaky(landmark_swap.generate, 99, RuntimeError))
    ds = _dataset(photo_sources, tmp_path / "b")
    Shard(ds, RunSettings(show_progress=False), 0, 1).run()
    assert {f.attempts for f in read_failures(ds.root)} == {1}


def test_reals_are_drawn_without_replacement_until_the_faces_run_out():
    index = _index()  # 9 identities, 15 face files over three splits
    table = SampleTable(_plan(index, n=20, reals=30, version=4), index)
    reals = [table.spec(int(i)) for i in table.reals]
    for split in table.plan.splits:
        paths = [r.sources[0][0].path for r in reals if r.split == split]
        distinct = len(table.pools[split]["face"])
        first = paths[:distinct]
        assert len(set(first)) == len(first), (split, paths)  # no file twice before every file was used once
        assert max(Counter(paths).values()) <= -(-len(paths) // distinct)
    fakes = {table.spec(int(i)).id: table.spec(int(i)) for i in table.fakes}
    for r in reals:
        if "paired_with" in r.params:  # a pair is still the fake's very target
            f = fakes[r.params["paired_with"]]
            assert r.sources[0][0].path in [it.path for it, _ in f.sources] and r.split == f.split


def test_small_splits_and_missing_types_warn_at_planning_time():
    index = _index()
    small = plan_warnings(SampleTable(_plan(index, n=20, reals=20), index))
    assert any("split 'val'" in w and "threshold" in w for w in small)
    assert any("holds no" in w for w in small)
    assert plan_warnings(SampleTable(_plan(index, n=400, reals=400), index)) == []


def test_a_mix_weight_that_earns_no_sample_is_said():
    """`face_swap=landmark_swap:1,aligned_swap:1000000` over a handful of face swaps gave landmark_swap none, and
    nothing was said (7 Dec sweep)."""
    index = _index()
    backends = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 1.0, "aligned_swap": 1e6}}
    warnings = plan_warnings(SampleTable(_plan(index, n=20, reals=20, backends=backends), index))
    assert any(w.startswith("--backend face_swap: landmark_swap gets none of the 6 face_swap sample(s) at weight 1 "
                            "of 1e+06") for w in warnings), warnings
    even = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 1.0, "aligned_swap": 1.0}}
    assert not any("gets none" in w for w in plan_warnings(SampleTable(_plan(index, n=20, reals=20, backends=even),
                                                                       index)))


def test_a_plan_written_before_mixes_gives_the_same_ids_and_samples():
    """plan.json as the code before this change wrote it (version 1, no backend_opts/redraws): same hash, same
    samples, drawn as that code drew them (tests/fixtures/plan_v1_samples.json was made by it)."""
    golden = json.loads((FIXTURES / "plan_v1_samples.json").read_text())  # made by the code of commit 3b266cd
    index = _index()
    path = FIXTURES / "plan_v1_samples.json"
    plan = Plan.model_validate(golden["plan"])
    plan._written = golden["plan"]
    table = SampleTable(plan, index)
    for row in golden["samples"]:
        s = table.spec(row["index"])
        got = {"index": s.index, "id": s.id, "type": s.type, "backend": s.backend, "split": s.split, "seed": s.seed,
               "sources": [[it.path, r] for it, r in s.sources], "params": s.params}
        assert got == row, path
    for example in sorted((Path(__file__).parents[1] / "manifests").glob("plan.*_*.json")):
        assert Plan.from_file(example).hash  # the committed example plans load


def test_an_old_dataset_resumes_with_its_plan(photo_sources, tmp_path):
    """A plan.json without the fields added here (written by the previous version) is resumed, not refused."""
    out = tmp_path / "D"
    args = ["run", "--type", "face_swap", "--n", 2, "--reals", 2, "--sources", photo_sources, "--out", out, "--quiet"]
    gen(*args)
    written = json.loads((out / "plan.json").read_text())
    for k in ("backend_opts", "redraws"):
        del written[k]
    written["version"] = 1
    (out / "plan.json").write_text(json.dumps(written))
    for p in (out / "manifest").glob("*.jsonl"):
        p.unlink()
    gen(*args)
    table = Dataset.open(out).table
    assert sorted(r.id for r in read_records(out)) == sorted(table.spec(i).id for i in range(4))


def _glasses_index(n_people: int, videos: int):
    index = _index(n_people=n_people, videos=videos)
    for it in index.items:
        it.glasses = {"v0.mp4": 1.4, "v1.mp4": 1.45, "p2.jpg": 1.3}.get(it.path, 0.3) if it.kind != "audio" else None
    return index


def test_backends_that_avoid_glasses_draw_no_one_who_wears_them_when_others_are_enough():
    """Plan version 4: with people enough in every split, landmark_swap and morph draw no face of p0/p1 (their
    videos' median glasses scores are above glasses.VIDEO_MAX; p2's photo alone scores between the video and
    photo lines: bare); self_blend and a version-3 plan still do. Version 5 keeps the rule, with new faces still
    first: a target's combinations without glasses come first, then those with (its test split needs more
    people than version 4's, whose optional third morph parent counted as a new face)."""
    from synthfake.sources import glasses_identities

    assert glasses_identities(_glasses_index(30, 12).items) == {"p0", "p1"}
    mix = {**LANDMARK_BACKENDS, "face_swap": {"landmark_swap": 0.5, "self_blend": 0.5}}

    def people(version: int, index) -> dict[str, set]:
        table = SampleTable(_plan(index, n=100, reals=100, backends=mix, version=version), index)
        out: dict[str, set] = {}
        for i in table.indices(real=False):
            s = table.spec(i)
            out.setdefault(s.backend, set()).update(it.identity for it, _ in s.sources if it.kind != "audio")
        return out

    v4, v3 = people(4, _glasses_index(30, 12)), people(3, _glasses_index(30, 12))
    v5 = people(5, _glasses_index(60, 24))  # every split holds bare people enough for two roles
    for backend in ("landmark_swap", "morph"):
        assert not v4[backend] & {"p0", "p1"}, backend
        assert not v5[backend] & {"p0", "p1"}, backend
        assert v3[backend] & {"p0", "p1"}, backend  # the filter is what changed
        assert "p2" in v4[backend]  # between the lines: bare
    assert v4["self_blend"] & {"p0", "p1"} and v4["landmark_reenact"] & {"p0", "p1"}  # they do not avoid them


def test_a_split_without_enough_people_free_of_glasses_warns_at_planning_time():
    index = _index()
    for it in index.items:
        it.glasses = None if it.kind == "audio" else (0.3 if it.identity == "p8" else 1.7)  # only p8 is bare
    warnings = plan_warnings(SampleTable(_plan(index, n=40, reals=40), index))
    assert any("each landmark_swap fake needs 2 people without glasses, but only 1 of the 2 people in this split "
               "has none (p8), so it also uses" in w and "add photos or videos of at least 1 more person without "
               "glasses" in w for w in warnings), warnings
    assert any("each morph fake needs 2 people without glasses" in w for w in warnings)
    for it in index.items:
        it.glasses = None if it.kind == "audio" else 0.3
    assert not any("glasses" in w for w in plan_warnings(SampleTable(_plan(index, n=40, reals=40), index)))
