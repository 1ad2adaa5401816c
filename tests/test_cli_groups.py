"""A bare command group (``ccops vm``) shows its help, as click does; a usage error
inside one is still one line."""

from __future__ import annotations

import pytest
from conftest import Setup


@pytest.mark.parametrize("group", [["vm"], ["loops"], ["config"]])
def test_a_bare_group_shows_its_help(setup: Setup, group: list[str]) -> None:
    result = setup.ccops(*group)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"Usage: {' '.join(['ccops', *group])} [OPTIONS] COMMAND")
    assert "Commands:" in result.stderr


def test_an_unknown_command_in_a_group_is_one_line(setup: Setup) -> None:
    result = setup.ccops("vm", "nosuch")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ccops: ccops vm: No such command 'nosuch'. (see ccops vm --help)"
    )
