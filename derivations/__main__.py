"""``python -m derivations``: derive and export every subject."""

import importlib
import time

from . import SUBJECTS


def main() -> None:
    for subject in SUBJECTS:
        start = time.perf_counter()
        module = importlib.import_module(f"derivations.{subject}")
        path = module.main()
        print(f"{subject:<24} -> {path.relative_to(path.parents[2])} "
              f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
