"""Questions about the session journal: restore a session, quit with decisions not yet exported."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from core.journal.restore import SessionSummary

KEEP, EXPORT, CANCEL = "keep", "export", "cancel"


def ask_restore(window: QWidget, session: SessionSummary, kept: bool = False) -> bool:
    """Return True when the user wants the unfinished session back.

    :param kept: the user quit choosing "restore next time" (else DefectSort was not closed normally)
    """
    started = session.started.replace("T", " ")[:16]
    why = "You quit keeping the last session." if kept else "DefectSort was not closed normally."
    text = (
        f"{why} The last session ({session.user}, started {started}, "
        f"model {session.model_name} {session.model_version}) can be restored:\n\n"
        f"  {_count(session.photos, 'photo')} with their results and sections\n"
        f"  {_count(session.edits, 'decision')} of the inspector (moves, removals, undo)\n\n"
        "Thumbnails are made again from the original files; a file that is gone is shown as such."
    )
    answer = QMessageBox.question(
        window, "Restore the last session?", text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    )
    return answer == QMessageBox.StandardButton.Yes


def ask_quit_with_unexported(window: QWidget, decisions: int, photos: int) -> str:
    """Ask before quitting over the inspector's decisions since the last export, saying what a restore brings back.

    :param decisions: photos moved or confirmed since the last export
    :returns: ``export`` (export first), ``keep`` (quit; the next start offers to restore) or ``cancel``
    """
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Quit DefectSort?",
        f"{_count(decisions, 'decision')} {'have' if decisions != 1 else 'has'} not been exported.",
        parent=window,
    )
    box.setInformativeText(
        f"If you quit now, the next start offers to restore this session: all {_count(photos, 'photo')} "
        f"in their sections, with your {_count(decisions, 'decision')}. Exporting first writes them out now."
    )
    export = box.addButton("Export…", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Quit, restore next time", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(export)
    box.exec()
    clicked = box.clickedButton()
    return EXPORT if clicked is export else KEEP if clicked is keep else CANCEL


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"
