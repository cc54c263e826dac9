"""When a phone is complete: its photos, and a quiet period after the last one.

A station photographs one phone, then the next; nothing in the folder says "this phone is done". A phone is
*complete* once no photo of it has arrived for :attr:`OpenPhones.quiet_s` seconds. A quiet period was chosen
over a marker file (``PHONE.done``) because it asks nothing of the station's software: an operator who
drops photos by hand, or a camera that only writes photos, works as is. The cost is a delay of the quiet
period before the verdict is sent; a photo of the phone that arrives later opens it again, and its new
verdict is sent as the next revision.

Which verdict was sent is remembered by a digest of the phone's photos and their labels, so a restart
sends nothing twice: a phone whose digest was delivered is complete and done.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.results.phones import PhoneGrouping, PhoneVerdict, PhotoOfPhone, phone_verdict

QUIET_S = 60.0


@dataclass
class _Phone:
    photos: dict[str, PhotoOfPhone] = field(default_factory=dict)  # source -> photo (a photo again replaces it)
    last_arrival: float = 0.0
    changed: bool = True  # a photo came since its verdict was last looked at


@dataclass(frozen=True)
class CompletePhone:
    """A phone whose verdict is due: the verdict and the digest that names this version of it."""

    verdict: PhoneVerdict
    digest: str


def phone_digest(photos: list[PhotoOfPhone]) -> str:
    """Return a short digest of a phone's photos and their verdicts (equal digests: nothing new to send)."""
    text = "\n".join(sorted(f"{p.source}\t{p.label}\t{p.status}" for p in photos))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class OpenPhones:
    """The phones of a watch, each due once per new set of photos after its quiet period.

    :param grouping: which photos show the same phone
    :param order: classes worst first (:func:`core.results.phones.severity_order`)
    :param sent: digest already delivered for each phone (from the delivery journal)
    :param quiet_s: the quiet period
    :param clock: the time source
    """

    def __init__(
        self,
        grouping: PhoneGrouping,
        order: list[str],
        sent: dict[str, str],
        quiet_s: float = QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.grouping = grouping
        self.order = order
        self.quiet_s = quiet_s
        self._sent = dict(sent)
        self._clock = clock
        self._phones: dict[str, _Phone] = {}

    def add(self, photo: PhotoOfPhone) -> None:
        """Count a photo's arrival (restart: every photo of the journal comes through here once)."""
        name = self.grouping.phone_of(photo.source, photo.name) or photo.source
        phone = self._phones.setdefault(name, _Phone())
        phone.photos[photo.source] = photo
        phone.last_arrival = self._clock()
        phone.changed = True

    def due(self) -> list[CompletePhone]:
        """Return the phones whose quiet period has passed and whose verdict was not sent as it is now (each
        version once: a phone still open when the watch stops is timed again after the restart)."""
        now, found = self._clock(), []
        for name, phone in self._phones.items():
            if not phone.changed or now - phone.last_arrival < self.quiet_s:
                continue
            phone.changed = False
            photos = list(phone.photos.values())
            digest = phone_digest(photos)
            if self._sent.get(name) != digest:
                self._sent[name] = digest
                found.append(CompletePhone(phone_verdict(name, photos, self.order), digest))
        return found
