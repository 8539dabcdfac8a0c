"""Run a rendered workload's container here the way its pod would run it (no cluster, no image).

- Network: the pod's own network namespace, held by a "pause" process (`unshare --net`), with the pod
  address POD_IP on its loopback device. Probes connect to POD_IP:<containerPort> like the kubelet,
  so a process that listens on 127.0.0.1 fails them as it would in a cluster; the ports of the host's
  Kafka brokers and PostgreSQL are forwarded into the namespace (the pod's "cluster services").
- Files: its own mount namespace with the root filesystem read-only (readOnlyRootFilesystem) and
  each volume at its mountPath: an emptyDir an empty writable folder, a configMap or secret its keys
  (or `items`) as files, a projected volume its sources' items together, read-only when the mount says so.
- Process: exactly the environment the manifest gives (envFrom, env, secretKeyRef/configMapKeyRef)
  plus what the image sets (PATH, PYTHONUNBUFFERED, PYTHONDONTWRITEBYTECODE, HOME), service links when
  the pod does not turn them off, and its command and args; `python` and the console scripts are this
  workspace's (the image's /app holds the same code; the caller's PYTHONPATH too, so a worktree's
  packages are the ones imported), the working directory is the repository.

Needs root (namespaces, mounts), as the tests on these machines have.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import dataclasses
import http.client
import os
import pathlib
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from tests.conftest import REPO

POD_IP = "10.244.0.10"
CLONE_NEWNET = 0x40000000
VENV_BIN = pathlib.Path(sys.executable).parent
_libc = ctypes.CDLL(None, use_errno=True)


class Sandbox:
    """A pod's network namespace, with forwards from its loopback to the host's ports."""

    def __init__(self) -> None:
        script = f"ip link set lo up && ip addr add {POD_IP}/32 dev lo && echo ready && exec sleep 86400"
        self.pause = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", script], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        assert self.pause.stdout is not None
        if self.pause.stdout.readline().strip() != b"ready":
            self.pause.kill()
            raise RuntimeError("could not create a network namespace (unshare --net needs root)")
        self.netns = f"/proc/{self.pause.pid}/ns/net"
        self._servers: list[asyncio.Server] = []
        self._pipes: set[asyncio.Task] = set()

    async def run(self, fn: Callable[[], Any]) -> Any:
        """fn() on a new thread inside the namespace (sockets it creates stay there)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def target() -> None:
            try:
                fd = os.open(self.netns, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                result = fn()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, done, result, None)

        threading.Thread(target=target, daemon=True).start()
        return await done

    async def forward(self, port: int) -> None:
        """Connections to 127.0.0.1:port inside go to 127.0.0.1:port on the host."""

        def listen():
            sock = socket.socket()
            sock.bind(("127.0.0.1", port))
            sock.listen(64)
            sock.setblocking(False)
            return sock

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._pipes.add(task)
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
            except (OSError, asyncio.CancelledError):  # a leaf task: cancelled by close(), it just ends
                writer.close()
            finally:
                self._pipes.discard(task)

        self._servers.append(await asyncio.start_server(pipe, sock=await self.run(listen)))

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self.pause.kill()
        await asyncio.to_thread(self.pause.wait)


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()


@dataclasses.dataclass
class Objects:
    """The rendered objects, and stand-ins (plain text data) for those created outside git."""

    docs: list[dict]
    stand_ins: dict[tuple[str, str], dict[str, str]]

    def data(self, kind: str, name: str) -> dict[str, str]:
        for doc in self.docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                if kind == "Secret":
                    return {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
                return dict(doc.get("data") or {})
        if (kind, name) not in self.stand_ins:
            raise KeyError(f"{kind} {name} is neither rendered nor given a stand-in")
        return self.stand_ins[(kind, name)]


def container_env(container: dict, objects: Objects) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
        )
        env.update({source.get("prefix", "") + k: v for k, v in objects.data(kind, ref["name"]).items()})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
            continue
        value_from = var["valueFrom"]
        kind, ref = (
            ("Secret", value_from["secretKeyRef"])
            if "secretKeyRef" in value_from
            else ("ConfigMap", value_from["configMapKeyRef"])
        )
        env[var["name"]] = objects.data(kind, ref["name"])[ref["key"]]
    return env


def service_links(services: list[dict]) -> dict[str, str]:
    """The variables the kubelet adds for every Service of the namespace (enableServiceLinks)."""
    env = {}
    for index, service in enumerate(services):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ip = f"10.96.0.{index + 10}"
        first = service["spec"]["ports"][0]["port"]
        env[f"{prefix}_SERVICE_HOST"], env[f"{prefix}_SERVICE_PORT"] = ip, str(first)
        env[f"{prefix}_PORT"] = f"tcp://{ip}:{first}"
        for port in service["spec"]["ports"]:
            env[f"{prefix}_SERVICE_PORT_{port['name'].upper()}"] = str(port["port"])
            env[f"{prefix}_PORT_{port['port']}_TCP"] = f"tcp://{ip}:{port['port']}"
    return env


def _volume_dir(volume: dict, objects: Objects, host: pathlib.Path) -> pathlib.Path:
    host.mkdir(parents=True)
    if "emptyDir" in volume:
        return host
    if "persistentVolumeClaim" in volume:  # the claim's volume: a folder that outlives the pod's process
        claim = host.parents[2] / "claims" / volume["persistentVolumeClaim"]["claimName"]
        claim.mkdir(parents=True, exist_ok=True)
        return claim
    if "projected" in volume:  # several Secrets' and ConfigMaps' items in one folder
        sources = volume["projected"]["sources"]
        default_mode = volume["projected"].get("defaultMode", 0o644)
    else:
        sources = [{"configMap": volume["configMap"]} if "configMap" in volume else {"secret": volume["secret"]}]
        default_mode = (volume.get("configMap") or volume.get("secret") or {}).get("defaultMode", 0o644)
    for source in sources:
        kind, ref = ("ConfigMap", source["configMap"]) if "configMap" in source else ("Secret", source["secret"])
        data = objects.data(kind, ref.get("name") or ref["secretName"])
        items = ref.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            path = host / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data[item["key"]])
            path.chmod(item.get("mode", default_mode))
    return host


def mount_script(pod: dict, container: dict, objects: Objects, workdir: pathlib.Path) -> str:
    """Shell that, in a fresh mount namespace, mounts the volumes, makes the rest read-only, then execs."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    lines, overlays, read_only = ["set -e"], {}, []
    mounts = sorted(container.get("volumeMounts", []), key=lambda m: workdir.is_relative_to(m["mountPath"]))
    for index, mount in enumerate(mounts):  # a mount over the folder holding workdir (/tmp) comes last
        target = pathlib.Path(mount["mountPath"])
        source = _volume_dir(volumes[mount["name"]], objects, workdir / "volumes" / str(index))
        if not target.exists():  # make the mount point in an overlay of its nearest existing folder
            anchor = next(p for p in target.parents if p.exists())
            assert anchor != pathlib.Path("/"), target
            if anchor not in overlays:
                upper, work = (
                    workdir / f"overlay{len(overlays)}" / "upper",
                    workdir / f"overlay{len(overlays)}" / "work",
                )
                upper.mkdir(parents=True), work.mkdir(parents=True)
                overlays[anchor] = f"lowerdir={anchor},upperdir={upper},workdir={work}"
                lines.append(f"mount -t overlay overlay -o {overlays[anchor]} {anchor}")
            lines.append(f"mkdir -p {target}")
        lines.append(f"mount --bind {source} {target}")
        if mount.get("readOnly"):
            read_only.append(target)
    lines += [f"mount -o remount,bind,ro {t}" for t in read_only]
    lines += [f"mount -o remount,ro {anchor}" for anchor in overlays]
    if container.get("securityContext", {}).get("readOnlyRootFilesystem"):
        lines.append("mount -o remount,bind,ro /")
    lines.append('exec "$@"')
    return "\n".join(lines)


def start(
    sandbox: Sandbox, pod: dict, container: dict, env: dict[str, str], objects: Objects, workdir: pathlib.Path
) -> subprocess.Popen:
    argv = [*container.get("command", []), *container.get("args", [])]
    argv[0] = sys.executable if argv[0] == "python" else str(VENV_BIN / argv[0])
    image_env = {
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(REPO),  # the image's user has /app as home: read-only
    }
    if os.environ.get("PYTHONPATH"):  # a worktree's packages ahead of the venv's install of the main checkout
        image_env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    script = mount_script(pod, container, objects, workdir)
    command = ["nsenter", f"--net={sandbox.netns}", "--", "unshare", "--mount", "--propagation", "private"]
    command += ["sh", "-c", script, "pod", *argv]
    variables = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted({**image_env, **env}.items()))
    (workdir / "command.sh").write_text(f"cd {REPO} && env -i {variables} {shlex.join(command)}\n")
    with open(workdir / "process.log", "ab") as log:
        return subprocess.Popen(
            command,
            env={**image_env, **env},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


async def probe(sandbox: Sandbox, container: dict, kind: str) -> str | None:
    """None when the container's readinessProbe/livenessProbe passes as the kubelet would judge it
    (status 200-399), else why not."""
    spec = container[kind]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    port = ports[spec["port"]] if isinstance(spec["port"], str) else spec["port"]

    def get() -> int:
        if spec.get("scheme", "HTTP") == "HTTPS":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                POD_IP, port, timeout=5, context=ssl._create_unverified_context()
            )
        else:
            conn = http.client.HTTPConnection(POD_IP, port, timeout=5)
        try:
            conn.request("GET", spec["path"], headers={"User-Agent": "kube-probe/1.33"})
            return conn.getresponse().status
        finally:
            conn.close()

    try:
        status = await sandbox.run(get)
    except OSError as exc:
        return f"{POD_IP}:{port}{spec['path']}: {exc}"
    return None if 200 <= status < 400 else f"{POD_IP}:{port}{spec['path']}: HTTP {status}"


def stop(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
