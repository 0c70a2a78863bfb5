"""Regenerate the golden files: ``.venv/bin/python tests/golden/generate.py [CASE ...]``.

Writes ``tests/golden/data/<case>.json`` for every case of :mod:`cases` (or only the named
ones). The golden files are the contract of a refactor: a change to them is a change of a
number and must be committed on its own with the reason in the message.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.golden.cases import DATA, MODELS_FILE, cases, run_case


def main(argv: list[str]) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    if not argv:
        from crossmargin.margin import available_models

        MODELS_FILE.write_text(json.dumps(list(available_models()), indent=1) + "\n")
    todo = cases()
    names = argv or sorted(todo)
    for name in names:
        t = time.perf_counter()
        doc = run_case(todo[name])
        text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False)
        (DATA / f"{name}.json").write_text(text + "\n")
        print(f"{name}: exit {doc['exit_code']} ({time.perf_counter() - t:.2f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
