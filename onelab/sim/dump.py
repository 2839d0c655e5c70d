"""The text format of a database backup: a MySQL-dump-like file with a checksum."""

from __future__ import annotations

import hashlib
import json
import time

TYPE_CHECKING = False  # typing costs ~10 ms per simulated command
if TYPE_CHECKING:
    from typing import Any


MARK = "-- one-lab-db: "
SUM = "-- one-lab-sha256: "


def render(db: dict[str, Any], backend: str, server: str, name: str) -> str:
    body = json.dumps(db, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    if backend == "sqlite":
        head = "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
        tail = "COMMIT;\n"
    else:
        head = (
            "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n"
            f"-- Host: {server}    Database: {name}\n"
            "-- ------------------------------------------------------\n"
            "-- Server version\t8.0.36\n\n"
            "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
            "/*!40101 SET NAMES utf8mb4 */;\n\n"
            f"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `{name}` "
            "/*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\n"
            f"USE `{name}`;\n\n"
            "DROP TABLE IF EXISTS `db_versioning`;\n"
        )
        tail = f"-- Dump completed on {now}\n"
    return f"{head}{MARK}{body}\n{SUM}{digest}\n{tail}"


def parse(text: str) -> dict[str, Any] | None:
    """The database in a dump, or None when the file is not an intact dump."""
    body = digest = None
    for line in text.splitlines():
        if line.startswith(MARK):
            body = line[len(MARK) :]
        elif line.startswith(SUM):
            digest = line[len(SUM) :].strip()
    if body is None or digest is None:
        return None
    if hashlib.sha256(body.encode()).hexdigest() != digest:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
