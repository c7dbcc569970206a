"""Shared fixtures: ../shared (the published transforms and golden data) beside the repository."""

import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def shared_dir() -> pathlib.Path:
    d = pathlib.Path(os.environ.get("GLOCAL_SHARED_DIR", REPO.parent / "shared"))
    if not (d / "golden" / "index.json").is_file():
        pytest.fail(f"{d}: no golden data (set GLOCAL_SHARED_DIR to the shared/ folder)")
    return d


@pytest.fixture(scope="session")
def shared() -> pathlib.Path:
    return shared_dir()


@pytest.fixture(scope="session")
def golden_index(shared):
    return json.loads((shared / "golden" / "index.json").read_text())


@pytest.fixture(scope="session")
def resnet18_npz(shared) -> pathlib.Path:
    return shared / "transforms" / "resnet18" / "avgpool" / "transform.npz"
