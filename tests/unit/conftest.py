"""Pure parts, in-process: a failure here points at one function."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "api"))
