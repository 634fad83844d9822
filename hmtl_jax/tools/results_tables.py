"""The tables of a results file (one JSON record per run, as `hmtl_jax.tools.sweep` writes them), rendered into a
Markdown document, so that no figure in the document can drift from the run that measured it.

    python -m hmtl_jax.tools.results_tables docs/results.jsonl docs/RESULTS.md          # rewrite the tables
    python -m hmtl_jax.tools.results_tables docs/results.jsonl docs/RESULTS.md --check  # exit 1 if out of date

The document marks each table's place with `<!-- results: STUDY -->` (or `<!-- results: STUDY (validation) -->`
for validation figures only) ... `<!-- end of results -->`; everything between the two lines is replaced by the
table of that study's records: one row per variant (config and
overrides), per train fraction the validation and (for runs evaluated on it) the test figures, mean ± sample standard
deviation over seeds (n; a single run shows its figure alone). The figures are the task's: accuracy (%) for
emotion; accuracy and ROC-AUC (%) for gender; mean absolute error of yaw, pitch and roll (degrees, lower is better)
for head pose.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict

import numpy as np

from hmtl_jax.supervised.tasks import REPORTED_FIGURES

BLOCK = re.compile(
    r"(<!-- results: (?P<study>[\w.-]+)(?P<validation> \(validation\))? -->\n)(?P<body>.*?)(<!-- end of results -->)",
    re.DOTALL,
)


def read_records(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def variant_name(record: dict) -> str:
    name = os.path.basename(record["config"]).removesuffix(".py")
    overrides = " ".join(o.removeprefix("--config.") for o in record["overrides"])
    return f"{name} {overrides}".strip()


# Each figure's column label, scale and decimals: fractions shown in %, errors in degrees (a few degrees, so two
# decimals tell variants apart).
FIGURES = {"accuracy": ("", 100.0, 1), "roc_auc": ("AUC", 100.0, 1), "mean_mae": ("MAE °", 1.0, 2)}


def _figures(records: list[dict]) -> tuple[str, ...]:
    """The figures a study's table shows, by its task (records before tasks existed are emotion's)."""
    tasks = {record.get("task", "emotion") for record in records}
    if len(tasks) != 1:
        raise ValueError(f"a study's runs must share one task, not {sorted(tasks)}")
    return REPORTED_FIGURES[tasks.pop()]


def _cell(values: list, scale: float, decimals: int) -> str:
    values = scale * np.array([v for v in values if v is not None], dtype=float)
    if not len(values):
        return "–"
    if len(values) == 1:  # no spread to show
        return f"{values[0]:.{decimals}f} (1)"
    return f"{values.mean():.{decimals}f} ± {values.std(ddof=1):.{decimals}f} ({len(values)})"


def study_table(records: list[dict], validation_only: bool = False) -> str:
    """Markdown: variants (in the order first seen) x fractions (largest first), the task's validation figures, and
    its test figures when the study's runs were evaluated on the test split (unless `validation_only`: a study that
    chooses settings shows only what they were chosen by)."""
    figures = _figures(records)
    fractions = sorted({r["train_fraction"] for r in records}, reverse=True)
    tested = any(r.get(f"test_{figures[0]}") is not None for r in records) and not validation_only
    splits = ["val"] + (["test"] if tested else [])
    by_variant: dict[str, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        by_variant[variant_name(record)][record["train_fraction"]].append(record)
    keys = [(f, f"{split}_{figure}") for f in fractions for split in splits for figure in figures]
    columns = [f"{f:.0%} {key.split('_')[0]} {FIGURES[key.split('_', 1)[1]][0]}".strip() for f, key in keys]
    lines = ["| variant | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for variant, by_fraction in by_variant.items():
        cells = [
            _cell([r.get(key) for r in by_fraction.get(f, [])], *FIGURES[key.split("_", 1)[1]][1:]) for f, key in keys
        ]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(document: str, records: list[dict]) -> str:
    """`document` with every marked table replaced by its study's table; a study without records is an error."""
    studies = defaultdict(list)
    for record in records:
        studies[record["study"]].append(record)

    def table(match: re.Match) -> str:
        study = match["study"]
        if study not in studies:
            raise ValueError(f"the document asks for study {study!r}, which has no records")
        return f"{match.group(1)}{study_table(studies[study], bool(match['validation']))}\n{match.group(5)}"

    return BLOCK.sub(table, document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", help="the JSON Lines file of run records")
    parser.add_argument("document", help="the Markdown file whose marked tables to rewrite")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    args = parser.parse_args()
    with open(args.document) as f:
        before = f.read()
    after = render(before, read_records(args.results))
    if args.check:
        if after != before:
            sys.exit(f"{args.document}: tables differ from {args.results}; rerun without --check")
        return
    with open(args.document, "w") as f:
        f.write(after)


if __name__ == "__main__":
    main()
