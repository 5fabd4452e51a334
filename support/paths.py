"""Where things are: the template checkout and the shared virtual environment."""

import sys
from pathlib import Path

# support/paths.py -> the template repository root.
TEMPLATE_DIR = Path(__file__).resolve().parents[1]

# The venv running the tests also runs every baked project (it holds the union
# of the generated projects' dependencies), so no bake needs its own venv.
VENV_BIN = Path(sys.executable).parent
