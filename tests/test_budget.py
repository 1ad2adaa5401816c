"""The RAM budget as data: Incus sizes, sums against the cap, and a replaced instance."""

from __future__ import annotations

import pytest

from ccops.decisions.budget import budget, parse_size

GB, GiB = 10**9, 2**30


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10GB", 10 * GB),
        ("512MiB", 512 * 2**20),
        ("2GiB", 2 * GiB),
        ("1.5GB", 1_500_000_000),
        ("4096", 4096),
        ("1 GiB", GiB),
        ("8kB", 8000),
        ("50%", None),
        ("", None),
        ("lots", None),
        ("3XB", None),
    ],
)
def test_parse_size(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def instance(name: str, memory: str | None, status: str = "Running") -> dict[str, object]:
    config = {} if memory is None else {"limits.memory": memory}
    return {"name": name, "status": status, "expanded_config": config}


CASES = [
    # (instances, cap, replace, total, within, problem contains)
    ([instance("a", "4GB"), instance("b", "6GB")], 10 * GB, None, 10 * GB, True, ""),
    ([instance("a", "4GB"), instance("b", "7GB")], 10 * GB, None, 11 * GB, False, "exceeds"),
    ([instance("a", "4GB"), instance("b", None)], 10 * GB, None, 4 * GB, False, "b"),
    ([instance("a", "4GB"), instance("b", "50%")], 10 * GB, None, 4 * GB, False, "b"),
    (
        [instance("vm", "8GB"), instance("o", "2GB")],
        10 * GB,
        ("vm", "9GB"),
        11 * GB,
        False,
        "exceeds",
    ),
    ([instance("o", "2GB")], 10 * GB, ("vm", "8GB"), 10 * GB, True, ""),
    ([], 10 * GB, None, 0, True, ""),
]


@pytest.mark.parametrize(("instances", "cap", "replace", "total", "within", "problem"), CASES)
def test_budget(
    instances: list[dict[str, object]],
    cap: int,
    replace: tuple[str, str] | None,
    total: int,
    within: bool,
    problem: str,
) -> None:
    result = budget(instances, cap, replace)  # type: ignore[arg-type]
    assert (result.total, result.within) == (total, within)
    assert problem in result.problem()
    assert bool(result.problem()) == (not within)
    assert [entry.name for entry in result.entries] == sorted(
        entry.name for entry in result.entries
    )
