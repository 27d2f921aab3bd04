import pytest

# Helpers' asserts (tests/support.py) report their values, as asserts in test modules do.
pytest.register_assert_rewrite("tests.support")
