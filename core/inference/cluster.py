"""``classify --cluster``: the same engine on a Ray cluster, through Ray Data (optional extra ``cluster``).

The driver lists the sources as small references (a file path, or a ZIP path and member names),
never photo bytes. Ray Data hands them in batches to a pool of actors; each actor loads one
:class:`core.inference.engine.Engine` once, reads its photos itself (so every node must reach the photos:
a shared folder) and returns each result as the record the session journal stores
(:func:`core.inference.records.photo_record`) plus its heatmap. The driver turns the records back into
predictions, in input order, keeping exactly one per input item: a batch that Ray retried after
an actor died cannot produce a photo twice, and a photo no actor returned becomes an error item.
Nothing else in DefectSort imports ray.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from core.inference.prediction import Prediction
from core.inference.records import heatmap_blob, photo_record, prediction_from_record
from core.model.bundle import Bundle, BundleError
from core.photos.sources import ImageItem, SourceRef

INSTALL_HINT = 'the cluster mode needs Ray: pip install "defectsort[cluster]"'


def require_ray() -> Any:
    """Return the ray module. :raises BundleError: with how to install it, when it is missing."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise BundleError(INSTALL_HINT) from None
    return ray


def item_rows(items: Iterable[ImageItem]) -> list[dict]:
    """Return one small row per item (its index, source, name, reference or error): what travels to actors."""
    return [
        {
            "index": index,
            "source": item.source,
            "name": item.name,
            "path": item.ref.path if item.ref else "",
            "members": json.dumps(list(item.ref.members) if item.ref else []),
            "error": item.error or "",
        }
        for index, item in enumerate(items)
    ]


def _items_of(batch: dict[str, np.ndarray]) -> list[ImageItem]:
    items = []
    for source, name, path, members, error in zip(
        batch["source"], batch["name"], batch["path"], batch["members"], batch["error"]
    ):
        ref = SourceRef(str(path), tuple(json.loads(str(members)))) if path else None
        items.append(ImageItem(str(source), str(name), ref, str(error) or None))
    return items


class ClassifyActor:
    """One Ray actor: loads the engine once, then classifies the batches Ray Data gives it.

    :param bundle_folder: the model bundle's folder (reachable from every node)
    :param backend: the inference backend (see :func:`core.inference.runtime.resolve_backend`)
    """

    def __init__(self, bundle_folder: str, backend: str = "auto"):
        from core.inference.engine import Engine
        from core.model.bundle import load_bundle

        self.engine = Engine(load_bundle(bundle_folder), backend=backend, threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        predictions = list(self.engine.classify(_items_of(batch)))
        return {
            "index": np.asarray(batch["index"]),
            "record": np.array([photo_record(p) for p in predictions], dtype=object),
            "heatmap": np.array([heatmap_blob(p.heatmap) or b"" for p in predictions], dtype=object),
        }


def classify_on_cluster(
    items: list[ImageItem],
    bundle: Bundle,
    address: str = "auto",
    actors: int = 2,
    batch_size: int = 16,
    backend: str = "auto",
    actor_class: type = ClassifyActor,
) -> Iterator[Prediction]:
    """Classify ``items`` on a Ray cluster. :returns: one prediction per item, in input order.

    :param address: ``auto`` starts (or joins) a local Ray; else the head's address (``ray://`` or ``host:port``)
    :param actors: actors in the pool (each loads the model once)
    :param batch_size: photos per batch handed to an actor
    :param actor_class: the actor (a test swaps in one that dies once)
    :raises BundleError: when Ray is not installed
    """
    ray = require_ray()
    if not ray.is_initialized():
        ray.init(address=None if address == "auto" else address, log_to_driver=False)
    rows = item_rows(items)
    if not rows:
        return iter(())
    blocks = min(len(rows), max(actors, math.ceil(len(rows) / batch_size)), 1000)  # work for every actor
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    results = dataset.map_batches(
        actor_class,
        fn_constructor_kwargs={"bundle_folder": str(bundle.folder), "backend": backend},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        max_restarts=3,
        max_task_retries=3,
    )
    found: dict[int, Prediction] = {}
    for row in results.iter_rows():
        index = int(row["index"])
        if index not in found:  # a retried batch may return a photo again: keep the first
            found[index] = prediction_from_record(json.loads(row["record"]), row["heatmap"] or None)
    return (found.get(i) or Prediction.failed(item, "not returned by the cluster") for i, item in enumerate(items))
