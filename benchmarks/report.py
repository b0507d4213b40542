"""The generated sections of docs/benchmarks.md (run.py, compare_xplique.py, compare_peers.py):
the options that write them (`--markdown`, `--note`, `--json`), a section's frame and date
line, its table cells, errors as one line of a cell, and writing the section out.
"""

import datetime
import json
from pathlib import Path
from typing import Dict, List, Optional

from measure import machine_description, write_marked


def add_report_options(parser) -> None:
    """`--markdown FILE`, `--note TEXT` and `--json FILE`."""
    parser.add_argument("--markdown", type=Path, default=None,
                        help="write the table between the markers of this file")
    parser.add_argument("--note", default=None, help="warning shown above the table")
    parser.add_argument("--json", type=Path, default=None, help="also dump raw results here")


def section(start: str, note: Optional[str], lines: List[str], end: str) -> str:
    """A generated section: the marker `start`, the `note` as a warning box, `lines`, the
    marker `end`."""
    head = [start, ""] + ([f"!!! warning \"{note}\"", ""] if note else [])
    return "\n".join(head + lines + ["", end])


def measured_on() -> str:
    """`Measured on <today>, <the machine's description>`: how a section's text begins."""
    return f"Measured on {datetime.date.today().isoformat()}, {machine_description()}"


def publish(section: str, rows: List[Dict], args, start: str, end: str) -> None:
    """Print `section`, write it between the markers of `args.markdown` and dump `rows` to
    `args.json` (each when given)."""
    print(section)
    if args.markdown:
        write_marked(args.markdown, section, start, end)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


def one_line(error: BaseException, limit: int = 160) -> str:
    """`Type: message` of `error` on one line, cut to `limit` characters."""
    message = " ".join(str(error).split())
    text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cell(text: str) -> str:
    """`text` safe inside a Markdown table cell (no `|`, no backquote)."""
    return text.replace("|", "/").replace("`", "'")


def time_cell(result: Dict, fails: str = "fails") -> str:
    """A result's time per image in ms, or `fails: <its error>`."""
    if "error" in result:
        return f"{fails}: `{cell(result['error'])}`"
    return f"{result['time_ms']:.2f}"


def speedup_cell(theirs: Dict, ours: Dict) -> str:
    """Their time / ours (above 1: ours is faster), `-` when either failed."""
    if "error" in theirs or "error" in ours:
        return "-"
    return f"{theirs['time_ms'] / ours['time_ms']:.2f}x"
