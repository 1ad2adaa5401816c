"""One source for exit codes: the error classes. README's table must say what they say."""

from __future__ import annotations

import re
from pathlib import Path

from ccops import errors

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_rows() -> dict[int, str]:
    section = README.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code): text for code, text in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.M)}


def class_rows() -> dict[int, str]:
    """Each exit code with the docstring of the class that defines it."""
    rows = {0: "Success"}
    for value in vars(errors).values():
        defines_code = isinstance(value, type) and "exit_code" in vars(value)
        if defines_code and issubclass(value, errors.CcopsError):
            assert value.exit_code not in rows, f"exit code {value.exit_code} used twice"
            rows[value.exit_code] = " ".join((value.__doc__ or "").split()).rstrip(".")
    return rows


def test_readme_exit_code_table_is_the_error_classes() -> None:
    assert readme_rows() == class_rows()


def test_every_error_is_a_ccops_error_with_a_code() -> None:
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.CcopsError)
            assert value.exit_code in class_rows()
