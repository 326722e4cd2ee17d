"""A fresh clone stands alone: the Gateway API schema is found through CUTOVER_GATEWAY_SCHEMA_DIR, else
beside the clone; without either, the HTTPRoute checks skip saying how to fix it, except in CI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.kubernetes.harness import HTTPROUTE_CRD_FILE, SCHEMA_DIR_VARIABLE, require_httproute_crd

SHARED_CRD = Path(__file__).resolve().parents[2] / ".." / "shared" / "schemas" / HTTPROUTE_CRD_FILE


@pytest.fixture
def lone_clone(tmp_path: Path) -> Path:
    """A clone with nothing beside it."""
    clone = tmp_path / "clone"
    clone.mkdir()
    return clone


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    """A directory holding a copy of the CRD (a fake one when this machine has none: only its path matters here)."""
    directory = tmp_path / "schemas"
    directory.mkdir()
    if SHARED_CRD.is_file():
        shutil.copy(SHARED_CRD, directory / HTTPROUTE_CRD_FILE)
    else:
        (directory / HTTPROUTE_CRD_FILE).write_text("kind: CustomResourceDefinition\n")
    return directory


def test_the_variable_points_the_tests_at_a_copy_of_the_crd(lone_clone, schema_copy):
    assert require_httproute_crd({SCHEMA_DIR_VARIABLE: str(schema_copy)}, lone_clone) == schema_copy / HTTPROUTE_CRD_FILE


def test_without_the_variable_the_schema_is_read_beside_the_clone(tmp_path, lone_clone, schema_copy):
    shared = tmp_path / "shared"
    shared.mkdir()
    schema_copy.rename(shared / "schemas")
    assert require_httproute_crd({}, lone_clone) == (shared / "schemas" / HTTPROUTE_CRD_FILE).resolve()


def test_a_lone_clone_skips_the_schema_checks_naming_the_variable(lone_clone):
    with pytest.raises(pytest.skip.Exception, match=SCHEMA_DIR_VARIABLE):
        require_httproute_crd({}, lone_clone)


def test_in_ci_a_missing_schema_fails_instead_of_skipping(lone_clone):
    with pytest.raises(pytest.fail.Exception, match=SCHEMA_DIR_VARIABLE):
        require_httproute_crd({"CI": "true"}, lone_clone)


def test_a_variable_naming_a_directory_without_the_crd_fails_even_outside_ci(lone_clone, tmp_path):
    with pytest.raises(pytest.fail.Exception, match=f"{SCHEMA_DIR_VARIABLE}={tmp_path}"):
        require_httproute_crd({SCHEMA_DIR_VARIABLE: str(tmp_path)}, lone_clone)
