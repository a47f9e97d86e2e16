"""What the bench prints: `name=value` lines as each figure is measured, `# ...` notes on the way,
then every figure again in one block; everything also saved to a file for docs/performance.md."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(subject: float, baseline: float) -> float:
    return subject / baseline if baseline else float("nan")


def median_ratio(subjects: Sequence[float], baselines: Sequence[float]) -> float:
    """The median of the rounds' ratios (each subject beside the baseline of its round)."""
    return median([ratio(a, b) for a, b in zip(subjects, baselines, strict=True)])


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


class Report:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.lines: list[str] = []
        self.figures: dict[str, str] = {}
        self._began = time.monotonic()

    def note(self, text: str) -> None:
        elapsed = time.monotonic() - self._began
        self._emit(f"# [{elapsed:5.0f} s] {text}")

    def value(self, name: str, value: object) -> None:
        text = _format(value)
        self.figures[name] = text
        self._emit(f"{name}={text}")

    def finish(self) -> None:
        """The final block, and the whole output saved to `out`."""
        self._emit("")
        self._emit("==== bench results ====")
        for name, text in self.figures.items():
            self._emit(f"{name}={text}")
        self.save()

    def save(self) -> None:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text("\n".join(self.lines) + "\n")

    def _emit(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)
