"""What a preparation wrote and what it skipped, per split: printed at the end and saved beside the records."""

from __future__ import annotations

import collections
import json
import os

REPORT_FILE = "preparation_report.json"
SHOWN_PER_REASON = 3  # example files printed per skip reason (the JSON file lists them all)


class PreparationReport:
    def __init__(self, dataset: str, class_names: tuple[str, ...]):
        self.dataset = dataset
        self.class_names = tuple(class_names)
        self.written: dict[str, collections.Counter] = {}
        self.skipped: dict[str, list[tuple[str, str]]] = {}

    def wrote(self, split: str, label: int) -> None:
        self.written.setdefault(split, collections.Counter())[self.class_names[label]] += 1

    def skip(self, split: str, item: str, reason: str) -> None:
        self.skipped.setdefault(split, []).append((item, reason))

    def skipped_by_reason(self, split: str) -> collections.Counter:
        return collections.Counter(reason for _, reason in self.skipped.get(split, []))

    def summary(self) -> str:
        splits = sorted(set(self.written) | set(self.skipped))
        lines = [f"{self.dataset}: records written per split and class"]
        width = max(len(n) for n in self.class_names)
        header = " " * (width + 2) + "".join(f"{s:>14}" for s in splits)
        lines.append(header)
        for name in self.class_names:
            counts = "".join(f"{self.written.get(s, {}).get(name, 0):>14,}" for s in splits)
            lines.append(f"  {name:<{width}}{counts}")
        totals = "".join(f"{sum(self.written.get(s, {}).values()):>14,}" for s in splits)
        lines.append(f"  {'total':<{width}}{totals}")
        for split in splits:
            items = self.skipped.get(split, [])
            lines.append(f"{split}: {len(items):,} skipped")
            for reason, count in self.skipped_by_reason(split).most_common():
                examples = [item for item, r in items if r == reason][:SHOWN_PER_REASON]
                more = ", ..." if count > len(examples) else ""
                lines.append(f"  {count:>7,}  {reason}: {', '.join(examples)}{more}")
        return "\n".join(lines)

    def save(self, directory: str) -> str:
        path = os.path.join(directory, REPORT_FILE)
        with open(path, "w") as f:
            json.dump(
                {
                    "dataset": self.dataset,
                    "class_names": self.class_names,
                    "written": {s: dict(c) for s, c in self.written.items()},
                    "skipped": {s: [list(x) for x in items] for s, items in self.skipped.items()},
                },
                f,
                indent=1,
            )
        return path

    @classmethod
    def load(cls, directory: str) -> PreparationReport:
        with open(os.path.join(directory, REPORT_FILE)) as f:
            saved = json.load(f)
        report = cls(saved["dataset"], tuple(saved["class_names"]))
        report.written = {s: collections.Counter(c) for s, c in saved["written"].items()}
        report.skipped = {s: [tuple(x) for x in items] for s, items in saved["skipped"].items()}
        return report


class SkipRecord(Exception):
    """A record that cannot be written; the message is the reason shown in the summary."""
