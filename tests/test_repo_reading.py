"""Reading the protocol markers from real clones at their pushed state."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ccops.decisions.markers import ReviewMarkers, parse_review, parse_status
from ccops.runners import git


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A bare origin and a clone of it with one pushed STATUS.md."""
    git.init_bare(tmp_path / "origin.git")
    work = tmp_path / "work"
    git.clone(str(tmp_path / "origin.git"), work)
    (work / "STATUS.md").write_text("# STATUS\n- Gate 1 — CLAIMED\n")
    git.commit_and_push(work, "first")
    return work


def status_at_pushed_state(clone: Path) -> str | None:
    rev = git.pushed_rev(clone)
    blob = git.blob_id(clone, rev, "STATUS.md") if rev else None
    return git.read_blob(clone, blob) if blob else None


def test_an_unpushed_commit_is_not_seen_until_pushed(clone: Path) -> None:
    (clone / "STATUS.md").write_text("# STATUS\n- Gate 1 — CLAIMED\n- Gate 2 — CLAIMED\n")
    sh(clone, "commit", "-qam", "claim 2")
    assert "Gate 2" not in (status_at_pushed_state(clone) or "")
    sh(clone, "push", "-q")
    assert "Gate 2" in (status_at_pushed_state(clone) or "")


def test_uncommitted_edits_and_the_index_are_ignored(clone: Path) -> None:
    (clone / "STATUS.md").write_text("## DONE\n")
    sh(clone, "add", "STATUS.md")
    assert status_at_pushed_state(clone) == "# STATUS\n- Gate 1 — CLAIMED\n"
    assert sh(clone, "diff", "--cached", "--name-only") == "STATUS.md"


def test_no_upstream_falls_back_to_head(tmp_path: Path) -> None:
    work = tmp_path / "solo"
    work.mkdir()
    sh(work, "init", "-q")
    assert git.pushed_rev(work) is None  # empty repo: no HEAD yet
    (work / "STATUS.md").write_text("## DONE\n")
    sh(work, "add", ".")
    sh(work, "commit", "-qm", "x")
    assert git.pushed_rev(work) == sh(work, "rev-parse", "HEAD")


def test_detached_head_and_missing_things(clone: Path, tmp_path: Path) -> None:
    sh(clone, "checkout", "-q", "--detach")
    assert git.pushed_rev(clone) == sh(clone, "rev-parse", "HEAD")
    assert git.pushed_rev(tmp_path / "no-such-clone") is None
    rev = git.pushed_rev(clone)
    assert rev and git.blob_id(clone, rev, "REVIEW.md") is None


def test_binary_and_non_utf8_text_never_crash(clone: Path) -> None:
    (clone / "STATUS.md").write_bytes(b"# STATUS\n\xff\xfe\x00 CLAIMED \xe9t\xe9\n")
    sh(clone, "commit", "-qam", "binary")
    sh(clone, "push", "-q")
    text = status_at_pushed_state(clone)
    assert text is not None and "CLAIMED" in text
    assert len(parse_status(text).claims) == 1


def test_markers() -> None:
    text = "\n".join(
        [
            "# STATUS",
            "## Gate 1 — CLAIMED 2026-11-25 abc123",
            "- Gate 2: runner — CLAIMED",
            "```",
            "## DONE",
            "- quoted CLAIMED inside a fence",
            "```",
            "## Blocked",
            "No SSH key for cc-ci.",
            "  Waiting for the operator.",
            "## Notes",
            "CLAIMED appears again: - Gate 2: runner — CLAIMED",
            "- Gate 2: runner — CLAIMED",
        ]
    )
    markers = parse_status(text)
    assert markers.done is False
    assert markers.blocked == "No SSH key for cc-ci. Waiting for the operator."
    assert markers.claims == (
        "## Gate 1 — CLAIMED 2026-11-25 abc123",
        "- Gate 2: runner — CLAIMED",
        "CLAIMED appears again: - Gate 2: runner — CLAIMED",
    )
    assert parse_status(text + "\n## DONE\n").done is True
    assert parse_status("### DONE\n").done is False  # only a level-1 or -2 heading counts
    assert parse_status("~~~\n## DONE\n~~~\n").done is False
    assert parse_status("- Gate 9 verified\n", claim_pattern=r"\bverified\b").claims == (
        "- Gate 9 verified",
    )


SIGNOFF = "FINAL SIGN-OFF 2026-12-01 abc123"
VETO = "VETO 2026-12-01 abc123: gate 2 unverified"


@pytest.mark.parametrize(
    ("lines", "signed_off", "veto"),
    [
        ([], False, None),
        (["- Gate 1 — PASS"], False, None),
        ([SIGNOFF], True, None),
        ([VETO], False, VETO),
        ([VETO, SIGNOFF], True, None),  # newer is lower: line order
        ([SIGNOFF, VETO], False, VETO),
        (
            [VETO, SIGNOFF, "- VETO 2026-12-02 def456: regression", "FINAL SIGN-OFF again"],
            True,
            None,
        ),
        ([SIGNOFF, "FINAL SIGN-OFF, no VETO left"], False, "FINAL SIGN-OFF, no VETO left"),
        ([SIGNOFF, "```", VETO, "```"], True, None),  # quoted in a fence: not a veto
        ([SIGNOFF, "vetoed? no. VETOES? not the word either"], True, None),
    ],
)
def test_review_signoff_is_newer_than_every_veto(
    lines: list[str], signed_off: bool, veto: str | None
) -> None:
    markers = parse_review("\n".join(["# REVIEW", *lines]) + "\n")
    assert (markers.signed_off, markers.veto) == (signed_off, veto)


def test_review_markers_are_configurable() -> None:
    text = "APPROVED at abc\nVETO noted\nBLOCK: gate 3\n"
    assert parse_review(text, "APPROVED", "BLOCK") == ReviewMarkers(False, "BLOCK: gate 3")
    assert parse_review(text + "APPROVED\n", "APPROVED", "BLOCK").signed_off


def test_huge_status_parses() -> None:
    text = "# STATUS\n" + "filler line\n" * 800_000 + "- Gate 7 — CLAIMED\n## DONE\n"
    markers = parse_status(text)
    assert markers.done and markers.claims == ("- Gate 7 — CLAIMED",)


@pytest.mark.parametrize(
    ("url", "bare"),
    [
        (
            "https://ccops:s3cret@git.example.net/cc-ci.git",
            "https://ccops@git.example.net/cc-ci.git",
        ),
        ("http://ccops:s3cret@[::1]:8080/cc-ci.git", "http://ccops@[::1]:8080/cc-ci.git"),
        ("ssh://git@git.example.net/cc-ci.git", "ssh://git@git.example.net/cc-ci.git"),
    ],
)
def test_a_password_leaves_the_url_for_the_environment(url: str, bare: str) -> None:
    without, env = git._without_password(url)
    assert without == bare
    assert ("s3cret" in env.values()) == ("s3cret" in url)
