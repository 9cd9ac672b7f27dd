"""What the CLI's tests share: one fake boto3 session, handing out the clients a test made (Stubbers, moto's), fake
credentials, and a way to run a command."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from s3_validated_pipeline.check import PROVENANCE_PATH
from s3_validated_pipeline.cli import _app, _aws


class FakeSession:
    """Stands in for ``boto3.Session``: ``client(name)`` hands out the test's client for ``name``, else ``others(name)``
    (e.g. a moto-backed client); without ``others``, a client the test did not give fails the test."""

    def __init__(self, clients: Mapping[str, Any] | None = None, *, others: Callable[[str], Any] | None = None) -> None:
        self.clients = dict(clients or {})
        self.others = others

    def client(self, name: str, region_name: str | None = None) -> Any:
        """The test's client for ``name``; in another Region, the one given as ``<name>@<region>``."""
        name = f"{name}@{region_name}" if region_name else name
        if name in self.clients:
            return self.clients[name]
        assert self.others is not None, f"the test gave the session no {name} client"
        return self.others(name)


def use_session(monkeypatch: pytest.MonkeyPatch, session: FakeSession) -> None:
    """Make every command of this test use ``session``, whatever profile and region it is given."""
    monkeypatch.setattr(_aws, "make_session", lambda profile, region: session)


REGION = "eu-west-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only: no profile, config file or instance metadata from this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def run(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``s3vp ARGS`` in this process: its exit code, stdout and stderr; an unexpected exception is raised."""
    result = CliRunner().invoke(_app.cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def attested_files(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file of an attested artifact but its envelope, by path: what its subjects must name."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != PROVENANCE_PATH
    }
