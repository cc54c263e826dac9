"""The final decision per photo: the model's decision under the policy in force, then the inspector's word.

This is the one place that says where a photo ends up. The window's sections, badges, detail pane and
phone cards, the export's folders and files, ``classify --sort``, the service's jobs and the report all
read :func:`final_decision`; none decides again.

- A photo the inspector put in a class (moved there, or confirmed in the model's own class) is settled
  in that class by the inspector, whatever doubt the model had.
- Otherwise a photo the policy accepts (status ``ok``) is settled in the model's class by the model.
- Otherwise it stays in doubt: in *Review* or *Unknown* (the model's class is only its guess), or among
  the *errors* when it could not be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.files import safe_file_name
from core.inference.prediction import ERROR, OK, REVIEW, UNKNOWN, Prediction

MODEL, INSPECTOR = "model", "inspector"  # who settled a photo
DOUBT_SECTIONS = (REVIEW, UNKNOWN)  # sections of photos nobody settled yet (besides errors)


@dataclass(frozen=True)
class FinalDecision:
    """Where one photo ends up, and who put it there.

    :param section: a class name, or ``review``, ``unknown``, ``error``
    :param status: ``ok`` when settled (by the model or the inspector), else ``review``, ``unknown``, ``error``
    :param label: the class the photo is settled in; None while it is in doubt or unreadable
    :param settled_by: ``model`` or ``inspector``; None while in doubt or unreadable
    :param corrected: the inspector put it in another class than the model's
    """

    section: str
    status: str
    label: str | None
    settled_by: str | None
    corrected: bool = False

    @property
    def settled(self) -> bool:
        """Return whether the photo is settled in a class."""
        return self.settled_by is not None

    @property
    def by_inspector(self) -> bool:
        """Return whether the inspector settled it (moved or confirmed): the window marks it."""
        return self.settled_by == INSPECTOR


def final_decision(prediction: Prediction, inspector_label: str | None = None) -> FinalDecision:
    """Decide where a photo ends up.

    :param prediction: the model's result, its status set by the policy in force
    :param inspector_label: the class the inspector put the photo in, None when untouched
    :returns: the final decision
    """
    if not prediction.ok:
        return FinalDecision(ERROR, ERROR, None, None)
    if inspector_label is not None:
        return FinalDecision(inspector_label, OK, inspector_label, INSPECTOR, inspector_label != prediction.label)
    if prediction.status in DOUBT_SECTIONS:
        return FinalDecision(prediction.status, prediction.status, None, None)
    return FinalDecision(str(prediction.label), OK, prediction.label, MODEL)


def final_fields(prediction: Prediction, final: FinalDecision) -> dict:
    """Return the fields every results item carries beside the model's: the final word and the model's own.

    ``status`` is the final one; ``model_status`` the policy's; ``final_label`` the class the photo is
    settled in (None while in doubt); ``settled_by`` who settled it; ``corrected`` whether the inspector
    moved it away from the model's label.
    """
    return {
        "status": final.status,
        "model_status": prediction.status,
        "final_label": final.label,
        "settled_by": final.settled_by,
        "corrected": final.corrected,
    }


FINAL_FIELDS = ("model_status", "final_label", "settled_by", "corrected")  # in CSV column order, after the model's


class SectionFolders:
    """The sorted-copies folder of every final decision: one per class, ``review/`` and ``unknown/`` for the rest.

    A class whose folder name would be ``review`` or ``unknown`` keeps it; the doubt folder then becomes
    ``_review`` or ``_unknown`` (one more ``_`` while that is taken too), so a class folder never receives
    photos nobody settled. Errors are listed in the results, never copied: they have no folder.

    :param classes: the model's classes
    """

    def __init__(self, classes: Iterable[str]):
        self.classes = {name: safe_file_name(name, fallback="label") for name in classes}
        taken = {folder.lower() for folder in self.classes.values()}
        self.doubts: dict[str, str] = {}
        for doubt in DOUBT_SECTIONS:
            folder = doubt
            while folder.lower() in taken:
                folder = "_" + folder
            self.doubts[doubt] = folder
            taken.add(folder.lower())

    def folder_of(self, final: FinalDecision) -> str | None:
        """Return the folder a photo is copied into, None for an unreadable one."""
        if final.status in self.doubts:
            return self.doubts[final.status]
        if final.label is None:
            return None
        return self.classes.get(final.label) or safe_file_name(final.label, fallback="label")
