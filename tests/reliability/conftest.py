"""Print (and optionally write) how many fuzz cases each target tried and how they ended."""

import json
import os

from fuzz_support import OUTCOMES


def pytest_terminal_summary(terminalreporter):
    if not OUTCOMES:
        return
    terminalreporter.section("fuzz cases per target")
    for target, counts in sorted(OUTCOMES.items()):
        terminalreporter.write_line(f"{target}: {sum(counts.values())} cases")
        for outcome, count in counts.most_common():
            terminalreporter.write_line(f"    {count:5d}  {outcome}")
    report = os.environ.get("AXION_FUZZ_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({t: dict(c) for t, c in OUTCOMES.items()}, f, indent=2)
