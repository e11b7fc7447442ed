"""``python -m report``: runs both agents on every bundled photo and writes report/REPORT.md
with its figures in report/figures/, answering the coursework's questions with measurements.

Where a report goes by default (``DEFAULT_OUT``): in a checkout of the project (an editable
install included) the project's own ``report/`` folder, whatever the current folder; after a
regular install ``colorize-report/`` in the current folder. Never ``./report`` outside the
checkout: with an editable install, ``python -m`` finds a ``./report`` folder (as a namespace
package, through the current folder, first on the import path) before setuptools' editable
finder finds this package, so the next ``python -m report`` there would fail.
"""

from pathlib import Path

from colorize.bundled import in_checkout

PROJECT_ROOT = Path(__file__).resolve().parent.parent
IN_CHECKOUT = in_checkout()
DEFAULT_OUT = PROJECT_ROOT / "report" if IN_CHECKOUT else Path("colorize-report")
RECORDED_DATA = "data"
"""Subfolder of a report folder with the recorded measurements the report reads but does not
rerun (``python -m agents.bench_improved`` writes its results there by default)."""
