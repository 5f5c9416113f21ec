"""Where the project's files are, for tests in any folder."""

from pathlib import Path

#: The checkout (``pyproject.toml``, ``blueprints/``, ``docs/`` ...).
ROOT = Path(__file__).resolve().parent.parent.parent
#: Good and broken example blueprints of the tests.
TEST_BLUEPRINTS = ROOT / "tests" / "blueprints"
