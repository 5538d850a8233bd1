"""Loaded by every Python subprocess the tests start: installs the network guard there too."""

import os
import sys

if os.environ.get("PREFLIGHT_GUARD") == "1":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import netguard

    netguard.install()
    sys.path.pop(0)
