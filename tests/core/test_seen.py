"""Photos already in the session are recognised by source and bytes."""

import hashlib

from core.inference.prediction import Prediction
from core.journal.seen import SeenPhotos
from core.photos.sources import collect_items
from tests.images import encode, screen_photo


def _prediction(item, data: bytes) -> Prediction:
    return Prediction(
        source=item.source, name=item.name, label="good", ref=item.ref, sha256=hashlib.sha256(data).hexdigest()
    )


def test_the_same_file_is_skipped_until_its_bytes_change(tmp_path):
    first, second = encode(screen_photo(1), "PNG"), encode(screen_photo(2), "PNG")
    (tmp_path / "a.png").write_bytes(first)
    (tmp_path / "b.png").write_bytes(second)
    seen, skipped = SeenPhotos(), []
    items = collect_items([tmp_path])
    for item in items:
        seen.add(_prediction(item, (tmp_path / item.name).read_bytes()))
    assert list(seen.unseen(collect_items([tmp_path / ".." / tmp_path.name]), skipped.append)) == []
    assert len(skipped) == 2
    (tmp_path / "b.png").write_bytes(first)  # the photo was taken again
    again = list(seen.unseen(collect_items([tmp_path, tmp_path / "b.png"]), skipped.append))
    assert [item.name for item in again] == ["b.png"]  # once, though it was asked for twice
    seen.clear()
    assert len(list(seen.unseen(collect_items([tmp_path]), skipped.append))) == 2
