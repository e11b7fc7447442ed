"""``python -m report``: runs both agents on every bundled photo and writes report/REPORT.md
with its figures in report/figures/, answering the coursework's questions with measurements.
"""
