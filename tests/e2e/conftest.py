from __future__ import annotations

import pytest

REPORT: list[str] = []  # lines for the terminal summary (429 counts, timings, duplicates)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test of the real `python -m bot` process (tests/e2e)")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if REPORT:
        terminalreporter.write_sep("-", "e2e report")
        for line in REPORT:
            terminalreporter.write_line(line)


@pytest.fixture
def e2e_report(request):
    """Call with a line of text; it is printed in the terminal summary, prefixed by the test's name."""
    def report(line: str) -> None:
        REPORT.append(f"{request.node.name}: {line}")
    return report
