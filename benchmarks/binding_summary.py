"""How often the reference comparison could not run, over a folder of graded reports.

    python benchmarks/binding_summary.py reports/            # after `grade submissions/ --out reports/`

Prints one row per assignment: reports, checks, checks held for review, checks skipped because the
book's weights could not be loaded into the student's module (the old, silent kind: schema 1 reports
skipped these and counted them as nothing), and how the components were bound (report schema 2): "found"
(looked up, no weights to bind), "names"/"roles" (one binding), "searched" (several tried), "none" (no
binding: its comparisons are held for review); "no candidate matched" counts bound components whose output
differed from the reference's (a bug: the comparison failed).
"""

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

UNBOUND = ("could not match your parameters", "its properties are checked instead", "could not load the book's weights")


def summarise(root: Path) -> dict[str, Counter]:
    rows: dict[str, Counter] = defaultdict(Counter)
    for path in sorted(root.rglob("report.json")):
        report = json.loads(path.read_text())
        key = report["assignment"] + (f"-{report['option']}" if report.get("option") else "")
        row = rows[key]
        row["reports"] += 1
        for check in report["checks"]:
            row["checks"] += 1
            unbound = any(text in check["message"] for text in UNBOUND)
            row["review"] += check["status"] == "review"
            row["unbound review"] += check["status"] == "review" and unbound
            row["unbound skipped"] += check["status"] == "skip" and unbound
        for binding in report.get("bindings", []):
            row[f"bound by {binding['method']}"] += 1
            row["bound, no candidate matched"] += binding.get("matched") is False
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="a folder of reports (grade --out)")
    rows = summarise(parser.parse_args().root)
    columns = ["reports", "checks", "unbound skipped", "unbound review", "review", "bound by found",
               "bound by names", "bound by roles", "bound by searched", "bound by none", "bound, no candidate matched"]
    print("| assignment | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    total = Counter()
    for key in sorted(rows):
        total.update(rows[key])
        print(f"| {key} | " + " | ".join(str(rows[key][c]) for c in columns) + " |")
    print("| all | " + " | ".join(str(total[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
