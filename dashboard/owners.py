"""Who owns a test: the project's CODEOWNERS-style rules applied to the test's file,
and ``CaseRef``, a test as the weekly review lists it, with its owners.

The rules come from ``Project.owners`` (checked by ``project_settings.parse_owners``
when saved). Matching follows GitHub's CODEOWNERS, which follows ``.gitignore``:

* the **last** matching line wins, and a line's owners replace earlier ones;
* a pattern with a ``/`` at its start or in its middle is anchored at the
  repository root; one without (``*.py``, ``docs/``) matches at any depth;
* ``*`` and ``?`` stay within one path segment, ``**`` crosses segments;
* a pattern naming a directory also owns everything under it, and a trailing
  ``/`` makes it match directories only; a wildcard in the last segment stays
  at that level (``docs/*`` owns ``docs/a.md``, not ``docs/sub/b.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from dashboard.project_settings import parse_owners
from dashboard.quarantine import pytest_node_id


@dataclass(frozen=True, slots=True)
class CompiledRule:
    pattern: str
    regex: re.Pattern[str]
    owners: tuple[str, ...]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression a CODEOWNERS pattern stands for (paths without a leading /)."""
    directory_only = pattern.endswith("/")
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    if body in ("", "*", "**"):
        return re.compile(r"^.+$")
    prefix = "^" if anchored else "^(?:.*/)?"
    last = body.rsplit("/", 1)[-1]
    if directory_only:
        suffix = "/.+$"
    elif "*" in last.replace("**", "") or "?" in last:
        # GitHub: ``docs/*`` owns ``docs/a.md`` but not ``docs/sub/b.md``.
        suffix = "$"
    else:
        # A name may be a directory: ``/build/logs`` owns ``build/logs/x``.
        suffix = "(?:/.+)?$"
    return re.compile(prefix + _glob_to_regex(body) + suffix)


def _glob_to_regex(glob: str) -> str:
    parts = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif glob.startswith("/**", index) and index + 3 == len(glob):
            parts.append("(?:/.*)?")
            index += 3
        elif glob.startswith("**", index):
            parts.append(".*")
            index += 2
        elif glob[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(glob[index]))
            index += 1
    return "".join(parts)


@lru_cache(maxsize=64)
def compile_rules(text: str | None) -> tuple[CompiledRule, ...]:
    """The owners file's valid lines, compiled (cached: the same text is read per test)."""
    return tuple(
        CompiledRule(rule.pattern, pattern_regex(rule.pattern), rule.owners)
        for rule in parse_owners(text).rules
    )


def normalise_path(path: str) -> str:
    path = path.replace("\\", "/").strip()
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def owners_of(path: str, owners_text: str | None) -> tuple[str, ...]:
    """The owners of ``path`` under the rules in ``owners_text``; () when none match."""
    path = normalise_path(path)
    if not path:
        return ()
    for rule in reversed(compile_rules(owners_text)):
        if rule.regex.match(path):
            return rule.owners
    return ()


def case_path(file: str, classname: str) -> str:
    """The file a test lives in: its reported file, else the pytest module its
    classname names (xunit2 pytest reports give no file). Empty when neither says:
    a module must be named as pytest collects them (``test_*.py``, ``*_test.py``),
    so a Java class (``com.example.FooTest``) is not taken for ``com/example.py``."""
    if file:
        return file
    if not classname:
        return ""
    module = pytest_node_id("", classname, "x").split("::", 1)[0]
    stem = module.rsplit("/", 1)[-1].removesuffix(".py")
    return module if stem.startswith("test_") or stem.endswith("_test") else ""


def case_owners(file: str, classname: str, owners_text: str | None) -> tuple[str, ...]:
    """The owners of a test, from the file it lives in."""
    return owners_of(case_path(file, classname), owners_text)


# --- listed tests -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A listed test, with its owners."""

    case_id: int
    file: str
    classname: str
    name: str
    owners: tuple[str, ...] = ()

    @property
    def display_name(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


class CaseRefs:
    """Makes ``CaseRef``s, naming each test's owners from the project's rules."""

    def __init__(self, owners_text: str | None) -> None:
        self.owners_text = owners_text

    def __call__(self, case_id: int, file: str, classname: str, name: str) -> CaseRef:
        owners = case_owners(file, classname, self.owners_text) if self.owners_text else ()
        return CaseRef(case_id, file, classname, name, owners)

    def of(self, row) -> CaseRef:
        """From anything with ``case_id``, ``file``, ``classname`` and ``name``."""
        return self(row.case_id, row.file, row.classname, row.name)
