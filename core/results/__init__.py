"""What leaves DefectSort: sorted copies, results JSON/CSV, phone verdicts, overlays and the report.

Every writer (the window's export, ``classify``, ``--cluster``, the service's jobs) goes through
:mod:`~core.results.pipeline`: one summary, one sorted-copies writer, one set of result files.
"""
