"""Whether two gradings of the same submissions agree: same checks, statuses and messages, same scores.

    python benchmarks/compare_reports.py OLD_REPORTS NEW_REPORTS

Reads every <assignment>/<student>/report.json under both folders (as `grade --out` writes them) and
prints, per submission that differs, the score change and each check whose status or message changed,
then a one-line summary. Exit status 1 when anything differs. Used to show that a speed-up changed no
verdict (benchmarks/grade_samples.py leaves its reports in the folders it prints).
"""

import argparse
import json
import sys
from pathlib import Path


def reports(root: Path) -> dict[str, dict]:
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
            for p in sorted(root.glob("*/*/report.json"))}


def statuses(report: dict) -> dict[str, str]:
    return {c["id"]: c["status"] for c in report.get("checks", ())}


def check_changes(old: dict, new: dict) -> list[str]:
    before = {c["id"]: c for c in old.get("checks", ())}
    after = {c["id"]: c for c in new.get("checks", ())}
    lines = []
    for check in sorted(before.keys() | after.keys()):
        a, b = before.get(check), after.get(check)
        if a is None or b is None:
            lines.append(f"  {check}: {'only in new' if a is None else 'only in old'}")
        elif (a["status"], a["message"]) != (b["status"], b["message"]):
            lines.append(f"  {check}: {a['status']} -> {b['status']}"
                         + ("" if a["message"] == b["message"] else f"\n    old: {a['message'][:300]!r}"
                                                                    f"\n    new: {b['message'][:300]!r}"))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    old, new = reports(args.old), reports(args.new)
    differing = 0
    for name in sorted(old.keys() | new.keys()):
        if name not in old or name not in new:
            print(f"{name}: only in {'new' if name not in old else 'old'}")
            differing += 1
            continue
        lines = check_changes(old[name], new[name])
        if lines or old[name]["score"] != new[name]["score"]:
            differing += 1
            print(f"{name}: score {old[name]['score']:g} -> {new[name]['score']:g}")
            print("\n".join(lines))
    both = old.keys() & new.keys()
    same_checks = sum(1 for n in both if not check_changes(old[n], new[n]))
    same_statuses = sum(1 for n in both if statuses(old[n]) == statuses(new[n]))
    print(f"\n{len(both)} submissions in both: {same_statuses} with every check's status the same, {same_checks} "
          f"with every status and message the same; {differing} differ in checks or score")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
