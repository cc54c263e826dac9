"""The model: bundles (model.json + weights) and where they are found, the networks, the backends that run them.

:mod:`~core.model.bundle` loads and saves a bundle, :mod:`~core.model.registry` and
:mod:`~core.model.promotion` say which version is in use, :mod:`~core.model.network` is the torchvision
network with its class maps, :mod:`~core.model.onnx_backend` and :mod:`~core.model.export` run and export
it, :mod:`~core.model.novelty` and :mod:`~core.model.anomaly` are the run-time parts of the unknown-photo
detector and the anomaly models. Fitting any of them lives in :mod:`core.training`.
"""
