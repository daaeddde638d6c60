"""Where productions are kept and the keys that seal them and sign their links:
read once at start-up (a malformed key stops the app), used by the package and
by the collection links."""

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app

from workflows.disclosure import sealing


@dataclass(frozen=True)
class Settings:
    folder: Path
    keys: list[sealing.Key]  # the newest first; older ones after a rotation

    def derived(self, key: sealing.Key, purpose: bytes) -> bytes:
        return hmac.new(key.secret, purpose, hashlib.sha256).digest()


def init_app(app: Flask) -> None:
    """Read PACKAGE_KEYS (refusing a malformed one at start-up) and name the folder."""
    folder = Path(app.instance_path) / "productions"
    app.extensions["disclosure"] = Settings(folder, sealing.parse_keys(app.config["PACKAGE_KEYS"]))


def settings() -> Settings:
    return current_app.extensions["disclosure"]


def folder(create: bool = True) -> Path:
    path = settings().folder
    if create:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
