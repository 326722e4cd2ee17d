"""The worked examples in the pure modules' docstrings hold."""

from __future__ import annotations

import doctest

import pytest

import cutover.drive
import cutover.records
import cutover.status


@pytest.mark.parametrize("module", [cutover.records, cutover.status, cutover.drive], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
