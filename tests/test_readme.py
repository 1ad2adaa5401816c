"""README's layout names every module ccops has, so the map cannot fall behind the tree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_layout_names_every_module() -> None:
    section = (ROOT / "README.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "ccops"
    modules = [p for p in package.rglob("*.py") if p.stem not in {"__init__", "__main__"}]
    missing = [str(p.relative_to(package)) for p in modules if p.name not in section]
    assert not missing, f"README's layout does not name {missing}"
