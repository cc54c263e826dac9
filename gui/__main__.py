"""``python -m gui`` and the frozen ``DefectSort`` executable: the window by default."""

from gui.launcher import run

if __name__ == "__main__":
    run()
