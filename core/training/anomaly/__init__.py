"""Fitting anomaly models: a good-only anomaly bundle (PatchCore) and a classifier's anomaly head.

The run-time parts (patch embeddings, the memory bank, the network) live in :mod:`core.model.anomaly`.
"""
