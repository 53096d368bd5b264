"""``python -m tabdl``: the same command line as the ``tabdl`` script."""

if __name__ == "__main__":
    from .cli import main

    raise SystemExit(main())
