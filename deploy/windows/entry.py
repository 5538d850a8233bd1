"""The .exe's entry point (PyInstaller needs a script): the same as the `preflight` console script."""

from preflight.entry import main

if __name__ == "__main__":
    main()
