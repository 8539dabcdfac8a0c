"""PostgreSQL from Debian packages, in a project-local data directory, run as the `postgres` user.

PostgreSQL refuses to run as root, so initdb and the server run through `runuser -u postgres`.
The data directory is owned by postgres; fsync is off because this is a throwaway local cluster
(production uses a managed or operator-run PostgreSQL, see k8s/).
"""

from __future__ import annotations

import glob
import os
import pathlib
import pwd
import subprocess

from .kafka import REPO
from .procs import StartupError, log_tail, port_open, wait_until


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise StartupError("PostgreSQL server binaries missing: apt-get install postgresql")
    return found[-1]


#: The portal's read-only roles, as the compose PostgreSQL makes them on its first start.
PORTAL_ROLES = (REPO / "deploy" / "postgres" / "portal-roles.sql").read_text()


class Postgres:
    def __init__(
        self, base: pathlib.Path, port: int = 55432, user: str = "epd", password: str = "epd", database: str = "epd"
    ) -> None:
        self.base, self.port, self.user, self.password, self.database = base, port, user, password, database
        self.data = base / "data"
        self.log_file = base / "postgres.log"
        self.socket_dir = base / "socket"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _as_postgres(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/")

    def _chown(self) -> None:
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam("postgres")
        for path in (self.base, self.data, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, pw.pw_uid, pw.pw_gid)
        if self.log_file.exists():
            os.chown(self.log_file, pw.pw_uid, pw.pw_gid)
        # postgres must be able to reach the folder through the repo's parents.
        for parent in self.base.parents:
            if parent == pathlib.Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    def is_running(self) -> bool:
        res = self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "status"])
        return res.returncode == 0

    def start(self, timeout: float = 60.0) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self._chown()
        if not (self.data / "PG_VERSION").exists():
            res = self._as_postgres(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            )
            if res.returncode != 0:
                raise StartupError(f"initdb failed:\n{res.stdout}\n{res.stderr}")
        if not self.is_running():
            opts = (
                f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c max_connections=200 -c shared_buffers=128MB"
            )
            res = self._as_postgres(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log_file),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "start",
                ]
            )
            if res.returncode != 0:
                raise StartupError(f"postgres failed to start:\n{res.stderr}\n{log_tail(self.log_file)}")
        wait_until(
            lambda: port_open("127.0.0.1", self.port),
            timeout=timeout,
            proc=None,
            what="postgres",
            log_file=self.log_file,
        )
        self._ensure_database()

    def _psql(self, sql: str, db: str = "postgres") -> subprocess.CompletedProcess:
        return self._as_postgres(
            [
                pg_bin("psql"),
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ]
        )

    def _ensure_database(self) -> None:
        role = self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{self.user}'")
        if role.stdout.strip() != "1":
            self._check(self._psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}' CREATEDB"))
        self._check(self._psql(PORTAL_ROLES))
        for db in (self.database,):
            exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'")
            if exists.stdout.strip() != "1":
                self._check(self._psql(f"CREATE DATABASE {db} OWNER {self.user}"))

    @staticmethod
    def _check(res: subprocess.CompletedProcess) -> None:
        if res.returncode != 0:
            raise StartupError(f"psql failed: {res.stderr}")

    def stop(self) -> None:
        if self.data.exists() and self.is_running():
            self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def describe(self) -> str:
        state = "up" if self.data.exists() and self.is_running() else "down"
        return f"postgres {self.dsn} ({state}; log {self.log_file})"
