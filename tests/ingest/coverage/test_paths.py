"""Path normalisation shared by every coverage parser."""

from __future__ import annotations

import pytest

from ingest.coverage.paths import (
    clean_path,
    common_directory,
    go_repo_paths,
    normalise_paths,
    strip_root,
)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("src/app.py", "src/app.py"),
        ("./src/app.py", "src/app.py"),
        ("src//pkg///app.py", "src/pkg/app.py"),
        ("src/./pkg/../app.py", "src/app.py"),
        ("../../lib/app.py", "lib/app.py"),
        ("src\\pkg\\app.cs", "src/pkg/app.cs"),
        ("c:\\src\\x.cs", "C:/src/x.cs"),
        ("/home/ci/../ci/repo/app.c", "/home/ci/repo/app.c"),
        ("tests/.subdir/a.cpp", "tests/.subdir/a.cpp"),
        ("  src/app.py \n", "src/app.py"),
        ("dist/<define:DATA>", "dist/<define:DATA>"),
    ],
)
def test_clean_path(raw: str, cleaned: str) -> None:
    assert clean_path(raw) == cleaned


def test_strip_root_is_by_directory_not_by_prefix() -> None:
    assert strip_root("/repo/src/a.py", "/repo") == "src/a.py"
    assert strip_root("/repo2/src/a.py", "/repo") is None


def test_strip_root_ignores_case_on_windows_only() -> None:
    assert strip_root("C:/Work/App/a.cs", "c:/work/app") == "a.cs"
    assert strip_root("/Work/App/a.c", "/work/app") is None


def test_common_directory() -> None:
    assert common_directory(["/r/src/a.c", "/r/src/b/c.c", "/r/lib/d.c"]) == "/r"
    assert common_directory(["/r/src/a.c"]) == "/r/src"
    assert common_directory(["/usr/x.h", "/home/y.c"]) == ""
    assert common_directory([]) == ""


def test_relative_paths_are_kept_and_cleaned() -> None:
    mapping = normalise_paths(["./src/a.py", "src\\b.py"], source_roots=["/home/me/repo"])
    assert mapping == {"./src/a.py": "src/a.py", "src\\b.py": "src/b.py"}


def test_absolute_paths_lose_the_longest_source_root() -> None:
    mapping = normalise_paths(
        ["/repo/src/main/java/a/A.java", "/repo/lib/B.java"],
        source_roots=["/repo", "/repo/src/main/java", "--source", "relative/dir"],
    )
    assert mapping == {"/repo/src/main/java/a/A.java": "a/A.java", "/repo/lib/B.java": "lib/B.java"}


def test_windows_paths_lose_their_source_root() -> None:
    mapping = normalise_paths(["C:\\temp\\sub\\a.cs"], source_roots=["c:\\temp\\"])
    assert mapping == {"C:\\temp\\sub\\a.cs": "sub/a.cs"}


@pytest.mark.parametrize(
    ("raw", "relative"),
    [
        ("/home/runner/work/shop/shop/src/cart.py", "src/cart.py"),
        ("/Users/runner/work/shop/shop/src/cart.py", "src/cart.py"),
        ("D:\\a\\shop\\shop\\src\\Cart.cs", "src/Cart.cs"),
        ("/__w/shop/shop/src/cart.py", "src/cart.py"),
        ("/github/workspace/src/cart.py", "src/cart.py"),
        ("/home/circleci/project/src/cart.py", "src/cart.py"),
        ("/var/lib/jenkins/workspace/shop-main/src/cart.py", "src/cart.py"),
        ("/var/lib/buildkite-agent/builds/agent-1/acme/shop/src/cart.py", "src/cart.py"),
    ],
)
def test_ci_checkout_roots_are_stripped_even_for_a_single_file(raw: str, relative: str) -> None:
    assert normalise_paths([raw]) == {raw: relative}


def test_other_absolute_paths_lose_their_common_directory() -> None:
    raw = ["/Users/me/dev/app/formatter.js", "/Users/me/dev/app/lib/util.js"]
    assert normalise_paths(raw) == {raw[0]: "formatter.js", raw[1]: "lib/util.js"}


def test_a_lone_absolute_path_keeps_its_file_name() -> None:
    assert normalise_paths(["/temp/someclass.h"]) == {"/temp/someclass.h": "someclass.h"}


def test_absolute_paths_with_nothing_in_common_just_lose_the_root() -> None:
    raw = ["/usr/include/x.h", "C:/src/y.c"]
    assert normalise_paths(raw) == {raw[0]: "usr/include/x.h", raw[1]: "src/y.c"}


def test_relative_paths_do_not_count_towards_the_common_directory() -> None:
    raw = ["src/a.c", "/opt/build/gen/b.c", "/opt/build/gen/sub/c.c"]
    assert normalise_paths(raw) == {"src/a.c": "src/a.c", raw[1]: "b.c", raw[2]: "sub/c.c"}


@pytest.mark.parametrize(
    ("raw", "relative"),
    [
        ("github.com/acme/router/router.go", "router.go"),
        ("github.com/acme/router/internal/match/match.go", "internal/match/match.go"),
        ("github.com/acme/cli/v2/cmd/root.go", "cmd/root.go"),
        ("GitHub.com/acme/cli/v10/main.go", "main.go"),
        ("bitbucket.org/acme/tool/x.go", "x.go"),
        ("github.com/acme/cli/v1/x.go", "v1/x.go"),
    ],
)
def test_go_paths_on_owner_repo_hosts_lose_the_module_root(raw: str, relative: str) -> None:
    assert go_repo_paths([raw]) == {raw: relative}


def test_go_paths_elsewhere_lose_their_common_directory() -> None:
    raw = ["go.uber.org/zap/logger.go", "go.uber.org/zap/zapcore/core.go"]
    assert go_repo_paths(raw) == {raw[0]: "logger.go", raw[1]: "zapcore/core.go"}


def test_go_gopath_less_local_packages_are_absolute_paths() -> None:
    raw = ["_/home/me/proj/main.go", "_/home/me/proj/util/u.go"]
    assert go_repo_paths(raw) == {raw[0]: "main.go", raw[1]: "util/u.go"}
