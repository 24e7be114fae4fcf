"""Go coverprofiles."""

from __future__ import annotations

import pytest

from ingest.coverage import gocover
from ingest.errors import EmptyReport, MalformedReport


def files_of(text: str) -> dict[str, tuple]:
    return {
        f.path: (f.lines_valid, f.lines_covered, f.branches_valid, f.branches_covered)
        for f in gocover.parse(text.encode()).files
    }


def test_statements_per_block_and_no_branch_data() -> None:
    text = (
        "mode: set\n"
        "github.com/acme/router/router.go:10.35,12.16 2 1\n"
        "github.com/acme/router/router.go:12.16,14.3 1 0\n"
        "github.com/acme/router/internal/m.go:5.40,7.2 0 0\n"
    )
    assert files_of(text) == {
        "internal/m.go": (0, 0, None, None),
        "router.go": (3, 2, None, None),
    }
    assert gocover.parse(text.encode()).format == "go-coverprofile"


def test_concatenated_profiles_merge_the_same_block_with_its_highest_count() -> None:
    text = (
        "mode: atomic\n"
        "github.com/a/b/x.go:1.1,2.2 2 0\n"
        "github.com/a/b/x.go:3.1,4.2 1 7\n"
        "mode: atomic\n"
        "github.com/a/b/x.go:1.1,2.2 2 4\n"
        "github.com/a/b/x.go:3.1,4.2 1 0\n"
    )
    assert files_of(text) == {"x.go": (3, 3, None, None)}


def test_overlapping_but_different_blocks_both_count() -> None:
    # As go tool cover: only identical blocks merge.
    text = "mode: set\nexample.com/m/f.go:9.30,10.13 1 1\nexample.com/m/f.go:9.30,12.3 1 0\n"
    assert files_of(text) == {"f.go": (2, 1, None, None)}


def test_a_module_and_its_major_version_path_name_one_file() -> None:
    text = (
        "mode: set\n"
        "github.com/e/lefthook/v2/internal/log/log.go:47.20,58.2 1 1\n"
        "github.com/e/lefthook/internal/log/log.go:60.21,62.2 1 0\n"
    )
    assert files_of(text) == {"internal/log/log.go": (2, 1, None, None)}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("github.com/a/b/x.go:1.1,2.2 1 1\n", 1, "starts with a mode"),
        ("mode: sometimes\n", 1, "unknown coverprofile mode"),
        ("mode: set\ngithub.com/a/b/x.go:1.1,2.2 1\n", 2, "not a coverprofile block"),
        ("mode: set\n\ngithub.com/a/b/x.go:one.1,2.2 1 1\n", 3, "not a coverprofile block"),
        ("mode: set\ngithub.com/a/b/x.go:1.1,2.2 -1 1\n", 2, "not a coverprofile block"),
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(MalformedReport, match=message) as caught:
        gocover.parse(text.encode())
    assert caught.value.line == line


@pytest.mark.parametrize("text", ["", "mode: set\n", "mode: count\n\n"])
def test_a_profile_without_blocks_is_empty(text: str) -> None:
    with pytest.raises(EmptyReport):
        gocover.parse(text.encode())
