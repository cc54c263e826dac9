"""What was classified and decided, kept as it happens so that nothing is lost.

:mod:`~core.journal.session` is the window's session journal (SQLite, a writer thread) and
:mod:`~core.journal.restore` reads it back (restore, audit trail); :mod:`~core.journal.run_log` is the
append-only log that ``classify --out`` and the service's jobs resume from; :mod:`~core.journal.seen`
skips photos already done; :mod:`~core.journal.corrections` reads the inspectors' corrections back as
training data.
"""
