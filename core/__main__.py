"""``python -m core`` and the frozen ``defectsort-cli`` executable: the command line only."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first: DataLoader workers must not relaunch the app when frozen
    from core.paths import confine_library_files, library_cache_for

    confine_library_files(library_cache_for(sys.argv[1:]))  # before torch, which makes a cache folder on import
    from core.cli import main

    sys.exit(main())
