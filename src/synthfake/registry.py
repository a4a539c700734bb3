"""One plugin contract for backends, export formats and audit checks: a named module with a `VERSION`, a run
function, and, when it can be unable to run (a missing extra, weights, a key), a `ready(...)` that says why
(None when it can; a module without one is always ready). A registry maps names to
module paths, imports a module on first use (an entry whose extra is missing costs nothing until asked for),
checks the contract once and caches the module."""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

from .errors import BackendNotReady


@dataclass(frozen=True)
class Contract:
    """What every entry of one kind provides: `run` (the function's name) taking `run_args` arguments, `ready`
    taking `ready_args`; `extra_checks(module)` adds the kind's own problems (one line each)."""

    run: str
    run_args: int
    ready_args: int = 1
    extra_checks: Callable[[ModuleType], list[str]] | None = None


@dataclass
class Registry:
    """Entries of one kind (`kind`: 'backend', 'export format', 'audit check'), by name -> module path."""

    kind: str
    entries: dict[str, str]
    contract: Contract
    install_hint: str = "install the extra it needs"
    _loaded: dict[str, ModuleType] = field(default_factory=dict, repr=False)

    def names(self) -> list[str]:
        return list(self.entries)

    def unknown(self, name: str) -> str:
        """One line: `name` is not an entry, the nearest names, and every known one."""
        near = difflib.get_close_matches(name, self.entries, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'? " if near else ""
        return f"{self.kind} '{name}': unknown ({hint}known: {', '.join(sorted(self.entries))})"

    def get(self, name: str) -> ModuleType:
        """The entry's module, its contract checked once (BackendNotReady naming what is wrong). A missing
        dependency raises ImportError as is; `why_not_ready` turns it into a line."""
        mod = self._loaded.get(name)
        if mod is None:
            if name not in self.entries:
                raise BackendNotReady(self.unknown(name))
            mod = importlib.import_module(self.entries[name])
            problems = self._problems(mod)
            if problems:
                raise BackendNotReady(f"{self.kind} '{name}' ({mod.__file__}): breaks the {self.kind} contract: "
                                      f"{'; '.join(problems)}")
            self._loaded[name] = mod
        return mod

    def loaded(self, name: str) -> ModuleType | None:
        """The entry's module when an earlier `get` loaded it, else None (never imports)."""
        return self._loaded.get(name)

    def _problems(self, mod: ModuleType) -> list[str]:
        c = self.contract
        problems = []
        if not isinstance(getattr(mod, "VERSION", None), str) or not mod.VERSION:
            problems.append("VERSION must be a non-empty string")
        for fn, n_args in (("ready", c.ready_args), (c.run, c.run_args)):
            f = getattr(mod, fn, None)
            if fn == "ready" and f is None:
                continue  # optional: always ready
            if not callable(f):
                problems.append(f"no function {fn}()")
            elif len(inspect.signature(f).parameters) != n_args:
                problems.append(f"{fn}() must take {n_args} argument(s)")
        return problems + (c.extra_checks(mod) if c.extra_checks else [])

    def why_not_ready(self, name: str, *ready_args) -> str | None:
        """None when entry `name` can run here, else a one-line reason (unknown, contract, missing extra, ready)."""
        try:
            mod = self.get(name)
        except BackendNotReady as e:
            return str(e)
        except ImportError as e:
            return f"{self.kind} '{name}': missing dependency {e.name}; {self.install_hint}"
        ready = getattr(mod, "ready", None)
        return ready(*ready_args) if ready is not None else None
