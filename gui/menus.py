"""Menus and keyboard shortcuts of the main window."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from core.inference.runtime import AUTO_PRECISION, DEFAULT_BACKEND
from core.model.bundle import Bundle
from gui import dialogs
from gui.icons import icon

SHORTCUTS = [
    ("Ctrl+O", "Open photos"),
    ("Ctrl+Shift+O", "Open a folder"),
    ("Ctrl+E", "Export results"),
    ("Drag thumbnails", "Move them to another section (drop on a photo or on a section's title)"),
    ("Delete", "Remove the selected photos from the session"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"),
    ("Arrow keys", "Step through photos (on past the end of a section or phone card into the next)"),
    ("P", "By phone: one card per phone, or the class sections"),
    ("H", "Heatmaps on / off"),
    ("Ctrl+F", "Filter by name"),
    ("Ctrl+Q", "Quit"),
]


BACKEND_NAMES = {"auto": "automatic", "torch": "PyTorch", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}
BACKEND_CHOICES = [
    ("auto", f"Automatic ({BACKEND_NAMES[DEFAULT_BACKEND]} {AUTO_PRECISION}, judged by the truth)"),
    ("torch", "PyTorch (the reference)"),
    ("onnxruntime", "ONNX Runtime"),
    ("openvino fp32", "OpenVINO float32"),
    ("openvino mixed", "OpenVINO mixed: bfloat16, the full-resolution layers float32"),
    ("openvino bf16", "OpenVINO bfloat16 (fastest; not judged as good as float32)"),
]


def shortcut_rows(classes: list[str]) -> list[tuple[str, str]]:
    """Return the keyboard shortcuts, with one row per class key of the active model (1 Good, 2 Oil ...)."""
    keys = [(str(n), f"Move the selected photos to {label.capitalize()}") for n, label in enumerate(classes[:9], 1)]
    return SHORTCUTS[:3] + keys + SHORTCUTS[3:]


def _action(parent, text: str, slot, shortcut=None, icon_name: str | None = None) -> QAction:
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    return action


class MenuActions:
    """The window's menus; keeps the per-class and per-model actions up to date."""

    def __init__(self, window):
        self.window = window
        bar = window.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.edit_menu = bar.addMenu("&Edit")
        self.model_menu = bar.addMenu("&Model")
        self.help_menu = bar.addMenu("&Help")
        self._class_actions: list[QAction] = []
        self._model_group = QActionGroup(window)
        self._models: list[Bundle] = []  # as the worker last listed them
        self._active_model: str | None = None
        self._build_file_menu()
        self._build_edit_menu()
        self._build_help_menu()
        self.model_menu.aboutToShow.connect(self._on_model_menu_shown)
        self._fill_model_menu()

    def _build_file_menu(self) -> None:
        w, menu = self.window, self.file_menu
        self.open_photos = _action(
            w, "Open photos…", lambda: w.open_paths(dialogs.ask_photos(w)), "Ctrl+O", "open-photos"
        )
        self.open_folder = _action(
            w, "Open folder…", lambda: w.open_paths(dialogs.ask_folder(w)), "Ctrl+Shift+O", "open-folder"
        )
        self.open_zip = _action(w, "Open ZIP archive…", lambda: w.open_paths(dialogs.ask_zips(w)), None, "open-zip")
        self.export = _action(w, "Export…", w.export, "Ctrl+E", "export")
        self.clear = _action(w, "Clear session", w.clear_session, None, "clear")
        self.resume = _action(w, "Continue classifying", w.continue_unfinished)
        self.resume.setEnabled(False)  # until a batch is cancelled
        for action in (self.open_photos, self.open_folder, self.open_zip, self.resume):
            menu.addAction(action)
        menu.addAction(w.folder_watch.action)
        menu.addSeparator()
        menu.addAction(self.export)
        menu.addAction(self.clear)
        menu.addSeparator()
        journal = w.journal_actions
        menu.addAction(_action(w, "Export audit trail (CSV)…", journal.export_audit))
        menu.addAction(_action(w, "Clear old sessions…", journal.clear_old_sessions))
        menu.addSeparator()
        menu.addAction(_action(w, "Quit", w.close, "Ctrl+Q"))
        toolbar = w.toolbar
        first = toolbar.actions()[0]
        toolbar.insertActions(first, [self.open_photos, self.open_folder, self.open_zip, self.export])
        toolbar.insertSeparator(first)

    def _build_edit_menu(self) -> None:
        w, menu = self.window, self.edit_menu
        undo = w.undo_stack.createUndoAction(w, "Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        undo.setIcon(icon("undo"))
        redo = w.undo_stack.createRedoAction(w, "Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setIcon(icon("redo"))
        menu.addAction(undo)
        menu.addAction(redo)
        menu.addSeparator()
        self.move_menu = menu.addMenu("Move selection to")
        menu.addAction(_action(w, "Remove from session", lambda: w.remove(w.view.selected_keys()), "Delete"))
        menu.addAction(_action(w, "Filter by name", w.toolbar.filter.setFocus, "Ctrl+F"))

    def _build_help_menu(self) -> None:
        w = self.window
        self.help_menu.addAction(
            _action(w, "Keyboard shortcuts", lambda: dialogs.show_shortcuts(w, shortcut_rows(w.gallery.classes)), "F1")
        )
        self.help_menu.addAction(_action(w, "Open log folder", dialogs.open_log_folder))
        self.help_menu.addAction(_action(w, "About DefectSort", lambda: dialogs.show_about(w)))

    def set_classes(self, classes: list[str]) -> None:
        """One "Move to" action per class, with number keys 1-9."""
        for action in self._class_actions:
            self.window.removeAction(action)
        self.move_menu.clear()
        self._class_actions = []
        for number, label in enumerate(classes, 1):
            action = _action(
                self.window,
                label.capitalize(),
                lambda _=False, target=label: self.window.relabel_selection(target),
                str(number) if number <= 9 else None,
            )
            self.move_menu.addAction(action)
            self.window.addAction(action)  # shortcuts work wherever the focus is
            self._class_actions.append(action)

    def check_model(self, name: str) -> None:
        """Mark the active model in the Model menu."""
        self._active_model = name
        self._fill_model_menu()

    def set_models(self, bundles: list[Bundle]) -> None:
        """Show the models the worker found (it is asked again each time the menu opens)."""
        self._models = list(bundles)
        self._fill_model_menu()

    def _on_model_menu_shown(self) -> None:
        self.window.client.list_models()  # the answer refreshes the open menu

    def _fill_model_menu(self) -> None:
        self.model_menu.clear()
        for bundle in self._models:
            action = self.model_menu.addAction(f"{bundle.name} {bundle.version}  ({', '.join(bundle.classes)})")
            action.setCheckable(True)
            action.setChecked(bundle.name == self._active_model)
            self._model_group.addAction(action)
            action.triggered.connect(lambda _=False, folder=str(bundle.folder): self.window.choose_model(folder))
        self.model_menu.addSeparator()
        self.model_menu.addAction("Open model folder…", self._open_model_folder)
        self.model_menu.addAction("Improve from corrections…", self.window.journal_actions.improve_model)
        self._add_backend_menu()

    def _add_backend_menu(self) -> None:
        """Model > Inference: which backend runs the model (persisted)."""
        menu = self.model_menu.addMenu("Inference")
        group = QActionGroup(menu)
        chosen = self.window.settings.get("backend")
        for backend, text in BACKEND_CHOICES:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(backend == chosen)
            group.addAction(action)
            action.triggered.connect(lambda _=False, name=backend: self.window.choose_backend(name))

    def _open_model_folder(self) -> None:
        folder = dialogs.ask_model_folder(self.window)
        if folder:
            self.window.choose_model(folder)


def build_menus(window) -> MenuActions:
    """Create the menu bar of ``window``. :returns: the actions object."""
    return MenuActions(window)
