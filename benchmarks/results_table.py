"""Render a scripts/bench.sh summary (JSON) as the Markdown tables of RESULTS.md.

    .venv/bin/python benchmarks/results_table.py benchmarks/results/<summary>.json

One table per path, with the command, commit, machine, date and load the figures
came from, so every number in RESULTS.md can be traced to a committed command.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.2f}" if value < 10 else f"{value:,.0f}"


def render(summary: dict[str, Any], source: str) -> str:
    m = summary["machine"]
    out = [
        f"Source: `{source}`, written by `{summary['command']}` at commit "
        f"`{summary['commit'][:10]}`, started {summary['started']}; {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}; load average before {summary['load_before']}, "
        f"after {' '.join(summary['load_after'])}"
        + ("; **quick run** (2 rounds, small corpora: rough figures)" if summary["quick"] else "")
        + ".",
        "",
    ]
    if summary["failed"]:
        out += [f"Failed in this run: {', '.join(summary['failed'])}.", ""]
    by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in summary["figures"]:
        by_path[row["path"]].append(row)
    for path, rows in by_path.items():
        out += [f"### {path}", "",
                "| figure | value | unit | reference (same test) | ratio | statistic |",
                "|---|---:|---|---|---:|---|"]
        for r in rows:
            ref = r["reference"] or ""
            if ref:
                ref += f": {_num(r['reference_value'])}"
            ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
            out.append(f"| {r['figure']} | {_num(r['value'])} | {r['unit']} | {ref} | {ratio} | "
                       f"{r['statistic']} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    path = Path(sys.argv[1])
    print(render(json.loads(path.read_text()), str(path)))


if __name__ == "__main__":
    main()
