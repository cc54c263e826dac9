"""Anomaly detection learned from good photos only (PatchCore): defects nobody named.

A pretrained backbone's mid-level features are patch embeddings (:mod:`core.model.anomaly.patches`);
a greedy coreset of the good photos' patches is the memory bank (:mod:`core.model.anomaly.memory`);
a patch's distance to its nearest good patch is its anomaly, the largest one the photo's score
(:mod:`core.model.anomaly.network`). :mod:`core.training.anomaly.build` builds such a bundle.
"""
