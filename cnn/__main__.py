"""``python -m cnn``: the same as the ``cnn`` console script (:mod:`cnn.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
