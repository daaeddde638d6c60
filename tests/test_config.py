"""Settings: what a caller passes to create_app wins over the environment, so a test
run never touches the database exported for the app on the same host."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from models import Role, User, db, utcnow
from tests.conftest import TEST_ACTOR, base_config
from workflows.identity import users

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def decoy(tmp_path, monkeypatch):
    """A database the environment names, as on a host that runs the app."""
    path = tmp_path / "exported.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("DUE_PROCESS_DATABASE_URL", f"sqlite:///{path}")
    return path


def test_the_database_a_caller_passes_wins_over_an_exported_one(decoy, tmp_path, sqlite_template):
    mine = tmp_path / "mine.sqlite3"
    shutil.copy(sqlite_template, mine)
    app = create_app(base_config(f"sqlite:///{mine}", tmp_path / "instance"))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{mine}"
    with app.app_context():
        upgrade()
        users.create_user("someone@provider.example", Role.REVIEWER, "a long passphrase here",
                          TEST_ACTOR, utcnow())
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        db.engine.dispose()
    assert not decoy.exists()


def test_a_database_url_passed_as_such_is_read_like_the_environment_s(decoy, tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "DATABASE_URL": "postgres://someone@db.example/dp"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone@db.example/dp"


def test_the_environment_still_names_the_database_when_the_caller_does_not(decoy, tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance")})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{decoy}"


@pytest.mark.slow
def test_the_suite_leaves_an_exported_database_alone(tmp_path):
    """The whole harness, as a developer runs it on a host where DATABASE_URL is set."""
    exported = tmp_path / "exported.sqlite3"
    env = {k: v for k, v in os.environ.items()
           if k not in ("TEST_DATABASE_URL", "PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env.update(DATABASE_URL=f"sqlite:///{exported}", DUE_PROCESS_DATABASE_URL=f"sqlite:///{exported}")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "--basetemp", str(tmp_path / "inner"), "tests/test_smoke.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
    assert not exported.exists()
