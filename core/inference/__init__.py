"""From photos to :class:`~core.inference.prediction.Prediction` objects: the engine and its decision stage.

:mod:`~core.inference.engine` reads, batches and runs the model; :mod:`~core.inference.postprocess`
decides once under the :class:`~core.inference.decision.DecisionPolicy` and chooses the heatmap;
:mod:`~core.inference.explain` and :mod:`~core.inference.interpret` put it into words and a Prediction;
:mod:`~core.inference.records` is a Prediction's stored form; :mod:`~core.inference.cluster` runs the
engine on Ray.
"""
