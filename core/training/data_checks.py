"""What in a training folder would make a model dishonest, said in one line each before training starts.

* a class with fewer than :data:`MIN_PER_CLASS` photos, or whose photos are all one photo: refused (there is
  nothing to learn it from, or nothing left to check it on);
* copies of one photo (byte for byte): kept together on one side of every split (a copy on each side would
  make validation a memory test), and named; a copy filed under two classes is named as a likely mislabel;
* grey and colour photos mixed: said, per class when the colour follows the class (the model could learn
  the camera instead of the defect);
* a photo far larger than the rest: said (it is shrunk to the same input: its small details may vanish).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

from core.training.data_profile import photo_header
from core.training.dataset import Sample

MIN_PER_CLASS = 5  # some photos to train on and some to check the model on
HUGE_PIXELS = 16  # a photo with this many times the median photo's pixels is named


@dataclass(frozen=True)
class DataCheck:
    """The samples to train on (copies grouped together) and what was found.

    :param samples: the samples, each copy of a photo in the group of its first copy
    :param refusals: reasons the data cannot be trained on honestly (training stops)
    :param notes: what the user should know; training goes on
    """

    samples: list[Sample]
    refusals: list[str]
    notes: list[str]


def check_training_data(classes: list[str], samples: list[Sample], min_per_class: int = MIN_PER_CLASS) -> DataCheck:
    """Check class sizes, copies, grey and colour, and outsized photos (file contents, headers and small drafts).

    :param classes: class names (``Sample.label`` indexes them)
    :param samples: the photos
    :param min_per_class: fewer photos in a class is refused (retraining on a few corrections allows 1: its gate
        judges the result)
    :returns: a :class:`DataCheck`
    """
    refusals = [
        f"class '{name}' has {count} photo{'s' if count != 1 else ''}: at least {min_per_class} are needed "
        "(some to learn from, some to check the model on)"
        for name, count in _counts(classes, samples).items()
        if 0 < count < min_per_class
    ]
    samples, copy_refusals, notes = _copies(classes, samples, refuse_one_photo=min_per_class > 1)
    headers = {s.path: photo_header(s.path) for s in samples}
    notes += _grey_and_colour(classes, samples, headers) + _outsized(samples, headers)
    return DataCheck(samples, refusals + copy_refusals, notes)


def checked_samples(classes: list[str], samples: list[Sample], min_per_class: int, say) -> list[Sample]:
    """Check the data, say each note, and refuse what cannot be trained honestly.

    :returns: the samples, copies of a photo in one group
    :raises ValueError: the refusals, one line each
    """
    checked = check_training_data(classes, samples, min_per_class)
    for note in checked.notes:
        say(f"Note: {note}.")
    if checked.refusals:
        raise ValueError("cannot train honestly on this data:\n" + "\n".join(f"  {line}" for line in checked.refusals))
    return checked.samples


def keep_copies_together(classes: list[str], samples: list[Sample]) -> list[Sample]:
    """The samples with copies of a photo in one group (data checked before: nothing said)."""
    return _copies(classes, samples, refuse_one_photo=False)[0]


def _counts(classes: list[str], samples: list[Sample]) -> dict[str, int]:
    counts = Counter(s.label for s in samples)
    return {name: counts[index] for index, name in enumerate(classes)}


def _copies(
    classes: list[str], samples: list[Sample], refuse_one_photo: bool
) -> tuple[list[Sample], list[str], list[str]]:
    by_content: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_content[hashlib.sha256(sample.path.read_bytes()).hexdigest()].append(sample)
    copies = [group for group in by_content.values() if len(group) > 1]
    refusals, notes = [], []
    for index, name in enumerate(classes):
        own = [digest for digest, group in by_content.items() if any(s.label == index for s in group)]
        total = sum(s.label == index for s in samples)
        if refuse_one_photo and len(own) == 1 and total >= 2:
            refusals.append(f"all {total} photos of class '{name}' are copies of one photo: nothing to learn from")
    for group in copies:
        labels = sorted({classes[s.label] for s in group})
        if len(labels) > 1:
            notes.append(
                f"{group[0].path.name} is filed under {' and '.join(labels)} ({len(group)} copies): one label is "
                "likely wrong"
            )
    if copies:
        extra = sum(len(group) - 1 for group in copies)
        example = f"{copies[0][1].path.name} = {copies[0][0].path.name}"
        notes.append(f"{extra} photos are copies of others (e.g. {example}): each copy stays with its original")
    group_of = {s.path: group[0].group for group in copies for s in group}
    regrouped = [replace(s, group=group_of[s.path]) if s.path in group_of else s for s in samples]
    return regrouped, refusals, notes


def _grey_and_colour(classes: list[str], samples: list[Sample], headers: dict) -> list[str]:
    grey: Counter = Counter()
    colour: Counter = Counter()
    for sample in samples:
        header = headers[sample.path]
        if header is not None:
            (grey if header[2] else colour)[classes[sample.label]] += 1
    if not grey or not colour:
        return []
    line = (
        f"{sum(grey.values())} photos are grey and {sum(colour.values())} colour: grey ones are trained as three "
        "equal channels"
    )
    only_grey = sorted(name for name in grey if not colour[name])
    if only_grey:
        line += (
            f"; class {', '.join(only_grey)} is all grey and the others are not: the model could learn the camera "
            "instead of the defect"
        )
    return [line]


def _outsized(samples: list[Sample], headers: dict) -> list[str]:
    pixels = {path: header[0] * header[1] for path, header in headers.items() if header is not None}
    if len(pixels) < 3:
        return []
    median = sorted(pixels.values())[len(pixels) // 2]
    notes = []
    for sample in samples:
        size = headers[sample.path]
        if size is not None and pixels[sample.path] > HUGE_PIXELS * median:
            notes.append(
                f"{sample.path.name} is {size[0]}x{size[1]}, {pixels[sample.path] / median:.0f}x the pixels of the "
                "median photo: it is shrunk to the same input (small details may vanish)"
            )
    return notes
