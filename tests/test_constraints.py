"""constraints.txt pins the versions a dataset's bytes were measured with: every dependency pyproject.toml declares
(core and the extras the README installs) is pinned there, once, to a version inside its declared range, and the
README's commands install with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
INSTALLED_EXTRAS = ("models", "detector", "export", "dev", "ray")  # README command 2; gpu is for CUDA machines


def pins() -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate((ROOT / "constraints.txt").read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.!]*)", line)
        assert m, f"constraints.txt:{n}: {line!r} is not name==version (no local label such as +cpu)"
        name = canonicalize_name(m.group(1))
        assert name not in out, f"constraints.txt:{n}: {name} pinned twice"
        out[name] = m.group(2)
    return out


def test_every_declared_dependency_is_pinned_within_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [r for e in INSTALLED_EXTRAS for r in project["optional-dependencies"][e]]
    pinned = pins()
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pinned, f"constraints.txt: {req.name} (pyproject.toml: {text!r}) is not pinned"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"constraints.txt: {req.name}=={pinned[name]} is outside pyproject.toml's {text!r}"


def test_both_readme_commands_install_with_the_constraints():
    """(`.ci/run` runs command 2 as written: tests/test_architecture.py checks that.)"""
    readme = (ROOT / "README.md").read_text()
    commands = re.search(r"## Set up and run \(two commands\).*?```bash\n(.*?)```", readme, re.S).group(1)
    installs = re.findall(r"pip install [^&\n]*", commands)
    assert len(installs) == 3 and all(c.startswith("pip install -c constraints.txt ") for c in installs), installs
