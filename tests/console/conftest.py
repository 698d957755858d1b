from tests.api.conftest import api  # noqa: F401  (the in-process API on a real Temporal server)
