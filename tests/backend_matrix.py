"""Write the README's lesson × backend table from what the notebook runs recorded.

    .venv/bin/python tests/backend_matrix.py <matrix-embedded.json> <matrix-localstack.json> ...

Each file comes from a pytest run with LABKIT_MATRIX_OUT set (see conftest.py). A lesson "runs"
when every cell passed and nothing was reported missing, is "partial" when it passed but printed
"– not on this backend: ..." lines (listed), "not available" when a requirement probe failed, and
"fails" otherwise. Real AWS is never run here, and the table says so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOKS = ROOT / "notebooks"
START, END = "<!-- backend-matrix:start -->", "<!-- backend-matrix:end -->"
BACKENDS = ("embedded", "localstack")


def cell(entry: dict | None) -> str:
    if entry is None:
        return "not run"
    if entry.get("skipped"):
        return f"not available: {entry['skipped'].split(':')[0].removesuffix(' here')}"
    if not entry["passed"]:
        return "fails"
    if entry["unavailable"]:
        missing = sorted({item.split(";")[0].strip() for item in entry["unavailable"]})
        return "partial: no " + ", ".join(missing)
    return "runs"


def table(results: dict[str, dict], lessons: list[str] | None = None) -> str:
    """One row per lesson in notebooks/ (by default): a lesson no run saw says "not run"; results for
    notebooks that no longer exist are left out."""
    if lessons is None:
        lessons = sorted(path.stem for path in NOTEBOOKS.glob("[0-9]*.ipynb"))
    lines = [
        "| lesson | embedded | localstack | aws |",
        "|---|---|---|---|",
    ]
    for lesson in lessons:
        row = [cell(results.get(backend, {}).get(lesson)) for backend in BACKENDS]
        lines.append(f"| {lesson} | {' | '.join(row)} | not run by CI (needs an account) |")
    return "\n".join(lines)


def main(paths: list[str]) -> None:
    if not paths:
        raise SystemExit("no results to build the table from: run `make test` and `make test-localstack` first")
    results = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        results[data["backend"]] = data["notebooks"]
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} … {END} block to rewrite")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    README.write_text(f"{before}{START}\n{table(results)}\n{END}{after}")
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
