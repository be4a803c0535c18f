"""Grading a class on several machines: `grade --shard K/N` picks one share, `grade merge` joins the shares."""

import argparse
import hashlib
import re
import shutil
from pathlib import Path

from grader.grade import report_dir
from grader.load import Submission


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (2, 4); argparse's `type` for --shard, so a bad value is a usage error naming the rule."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 1 <= K <= N, e.g. 1/4")
    return int(match.group(1)), int(match.group(2))


def report_name(submission: Submission) -> str:
    """'<id>-<option>/ada': the submission's report folder under --out, the same on every machine."""
    return report_dir(Path(), submission).as_posix()


def shard_of(submission: Submission, count: int) -> int:
    """Which of `count` shards (1-based) grades the submission: a hash of its report name, so the
    choice does not depend on the machine, the run or the order the paths were given in."""
    digest = hashlib.sha256(report_name(submission).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(submissions: list[Submission], shard: tuple[int, int]) -> list[Submission]:
    """The submissions shard K of N grades; shards 1..N together hold each submission exactly once."""
    number, count = shard
    return [s for s in submissions if shard_of(s, count) == number]


def report_folders(root: Path) -> dict[str, Path]:
    """'<assignment>/<student>' -> its folder, for every report.json under root (a --out folder)."""
    return {path.parent.relative_to(root).as_posix(): path.parent for path in sorted(root.glob("*/*/report.json"))}


def gather(roots: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """The report folders of every root (a later root's wins) and a line per submission that two
    roots hold with different report.json files; identical copies are no conflict."""
    chosen: dict[str, Path] = {}
    conflicts = []
    for root in roots:
        for name, folder in report_folders(root).items():
            earlier = chosen.get(name)
            if earlier and (earlier / "report.json").read_bytes() != (folder / "report.json").read_bytes():
                conflicts.append(f"{name}: {earlier} and {folder} differ")
            chosen[name] = folder
    return chosen, conflicts


def copy_reports(chosen: dict[str, Path], out: Path) -> None:
    """Copy each report folder to <out>/<assignment>/<student>/, over what is there."""
    for name, folder in chosen.items():
        target = out / name
        if folder.resolve() != target.resolve():
            shutil.copytree(folder, target, dirs_exist_ok=True)
