"""Repo-relative, normalised file paths for coverage reports.

A file's coverage history lines up across runs only when every run names the
file the same way, whichever machine, checkout directory or operating system
wrote the report. So every parser passes the paths it read through
``normalise_paths`` (or ``go_repo_paths`` for Go import paths), which returns:

- forward slashes, no empty or ``.`` segments, ``..`` resolved without ever
  climbing above the start of the path;
- relative paths as given (a report's relative paths are relative to the
  source root, which is the repository root in every CI we know);
- absolute paths made relative: first to the longest source root the report
  names (Cobertura ``<sources>``), then to a well-known CI checkout directory,
  and last to the deepest directory all the remaining absolute paths share.
  That last guess always keeps at least the file name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_DRIVE = re.compile(r"^[A-Za-z]:/")
# Never part of a stored path: control characters (PostgreSQL refuses NUL
# outright) and lone surrogates (JSON's "\ud800", which no encoder writes).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# The longest path stored (the column's size); a longer one keeps its start
# and ends with a hash of the whole, so two long paths stay two files.
MAX_PATH_CHARS = 1000
_HASH_SUFFIX_CHARS = 16
_LONG_PATH_MARKER = "…#"

# Checkout directories of hosted CI runners: the repository root is known
# from the path alone, which stays stable even when one run covers only a
# corner of the tree (where the shared-prefix guess would cut too deep).
_CI_CHECKOUT_ROOTS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"^/(?:home|Users)/runner/work/([^/]+)/\1/",  # GitHub Actions, Linux and macOS
        r"^[A-Z]:/a/([^/]+)/\1/",  # GitHub Actions, Windows
        r"^/__w/([^/]+)/\1/",  # GitHub Actions, job containers
        r"^/github/workspace/",  # GitHub Actions, Docker actions
        r"^/home/circleci/project/",  # CircleCI
        r"^/(?:var/lib|home)/jenkins/workspace/[^/]+/",  # Jenkins
        r"^/var/lib/buildkite-agent/builds/[^/]+/[^/]+/[^/]+/",  # Buildkite
    )
)

# Hosts whose repositories are always ``host/owner/repo``, so a Go import
# path's module root is its first three segments (plus a ``/vN`` suffix).
_OWNER_REPO_HOSTS = frozenset({"github.com", "bitbucket.org", "codeberg.org", "gitee.com"})
_GO_MAJOR_VERSION = re.compile(r"^v(?:[2-9]|[1-9]\d+)$")


def clean_path(raw: str) -> str:
    """Forward slashes, no empty or ``.`` segments, ``..`` resolved lexically.

    An absolute path keeps its root (``/`` or an upper-cased ``C:/``). A ``..``
    that would climb above the start of the path is dropped: the file lies
    outside the report's base and the rest of its path is the best name left.
    """
    path = _storable(raw).strip().replace("\\", "/")
    root = ""
    if _DRIVE.match(path):
        root, path = path[0].upper() + ":/", path[3:]
    elif path.startswith("/"):
        root = "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return root + "/".join(segments)


def is_absolute(path: str) -> bool:
    """Whether a cleaned path starts at a filesystem root."""
    return path.startswith("/") or bool(_DRIVE.match(path))


def strip_root(path: str, root: str) -> str | None:
    """The part of ``path`` below the directory ``root``, or None when outside it.

    Windows paths compare case-insensitively, as the filesystem does.
    """
    prefix = root.rstrip("/") + "/"
    if _DRIVE.match(path):
        inside = path.casefold().startswith(prefix.casefold())
    else:
        inside = path.startswith(prefix)
    return path[len(prefix) :] if inside and len(path) > len(prefix) else None


def common_directory(paths: Iterable[str]) -> str:
    """The deepest directory every one of ``paths`` lies in ("" when none)."""
    common: list[str] | None = None
    for path in paths:
        directories = path.split("/")[:-1]
        if common is None:
            common = directories
            continue
        fold = str.casefold if _DRIVE.match(path) else str
        shared = 0
        for mine, theirs in zip(common, directories, strict=False):
            if fold(mine) != fold(theirs):
                break
            shared += 1
        common = common[:shared]
    return "/".join(common) if common else ""


def drop_root(path: str) -> str:
    """A cleaned path without its leading ``/`` or drive."""
    if _DRIVE.match(path):
        return path[3:]
    return path.lstrip("/")


def normalise_paths(raw_paths: Iterable[str], source_roots: Iterable[str] = ()) -> dict[str, str]:
    """Map each path as the report wrote it to its repo-relative form.

    ``source_roots`` are the directories the report says its paths are
    relative to; only absolute ones help, to strip absolute paths.
    """
    roots = sorted(
        {root for root in map(clean_path, source_roots) if is_absolute(root)},
        key=len,
        reverse=True,
    )
    resolved = {raw: _strip_known_root(clean_path(raw), roots) for raw in raw_paths}
    shared = common_directory(path for path in resolved.values() if is_absolute(path))
    return {
        raw: bounded(_relative_to(path, shared) if is_absolute(path) else path)
        for raw, path in resolved.items()
    }


def go_repo_paths(import_paths: Iterable[str]) -> dict[str, str]:
    """Map Go coverprofile file names (``module/pkg/file.go``) to repo-relative paths.

    On owner/repo hosts the module root is known (``github.com/org/repo``,
    with a ``/v2``-style major version suffix). Elsewhere the module path is
    not in the profile, so the deepest directory shared by all the files is
    taken for it. GOPATH-less local packages (``_/abs/dir/file.go``) are
    absolute paths and handled like any other.
    """
    mapping: dict[str, str] = {}
    unknown_roots: dict[str, str] = {}
    for raw in import_paths:
        path = clean_path(raw[1:] if raw.startswith("_/") else raw)
        hosted = _strip_hosted_module(path)
        if hosted is not None:
            mapping[raw] = hosted
        else:
            unknown_roots[raw] = path
    shared = common_directory(drop_root(path) for path in unknown_roots.values())
    for raw, path in unknown_roots.items():
        mapping[raw] = _relative_to(drop_root(path), shared)
    return {raw: bounded(path) for raw, path in mapping.items()}


def bounded(path: str) -> str:
    """``path`` in at most ``MAX_PATH_CHARS`` characters (see there)."""
    if len(path) <= MAX_PATH_CHARS:
        return path
    digest = hashlib.sha256(path.encode("utf-8")).hexdigest()[:_HASH_SUFFIX_CHARS]
    keep = MAX_PATH_CHARS - len(_LONG_PATH_MARKER) - _HASH_SUFFIX_CHARS
    return path[:keep] + _LONG_PATH_MARKER + digest


def _storable(raw: str) -> str:
    """``raw`` without control characters, a lone surrogate replaced by U+FFFD."""
    if raw.isprintable():
        return raw
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", raw))


def _strip_known_root(path: str, source_roots: list[str]) -> str:
    if not is_absolute(path):
        return path
    for root in source_roots:
        inside = strip_root(path, root)
        if inside is not None:
            return inside
    for pattern in _CI_CHECKOUT_ROOTS:
        match = pattern.match(path)
        if match and len(path) > match.end():
            return path[match.end() :]
    return path


def _relative_to(path: str, directory: str) -> str:
    """``path`` below ``directory`` (a directory it is known to lie in), rootless."""
    inside = strip_root(path, directory) if directory else None
    return drop_root(inside if inside is not None else path)


def _strip_hosted_module(path: str) -> str | None:
    segments = path.split("/")
    if segments[0].lower() not in _OWNER_REPO_HOSTS or len(segments) < 4:
        return None
    inside = segments[3:]
    if len(inside) > 1 and _GO_MAJOR_VERSION.match(inside[0]):
        inside = inside[1:]
    return "/".join(inside)
