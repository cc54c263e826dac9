"""The morning report of a run: statistics gathered item by item, drift against the model's baseline
and earlier runs, charts and a self-contained ``report.html``."""
