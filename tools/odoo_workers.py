"""Start and stop an Odoo server in multi-worker mode on loopback ports.

Shared by bench/bench_load.py and tests/test_public_load.py, which both load
the public endpoints of the suite from a second process. Failures raise
``ServerError`` with a message that names the server log.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ADDONS_DIR = Path(__file__).resolve().parent.parent / "addons"


class ServerError(RuntimeError):
    """The Odoo server could not be started or did not respond."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo_command(database, addons_path=ADDONS_DIR):
    """Return the odoo command line for ``database`` on the loopback interface.

    It runs the odoo script rather than "python -m odoo": in multi-worker mode
    Odoo starts its websocket process by running sys.argv again, and
    odoo/__main__.py cannot run as a plain script (Odoo 18.0).
    """
    executable = shutil.which("odoo")
    if not executable:
        raise ServerError("the odoo command is not on PATH")
    command = [
        executable,
        f"--database={database}",
        f"--addons-path={addons_path}",
        "--http-interface=127.0.0.1",
    ]
    for variable, option in (
        ("PGHOST", "--db_host"),
        ("PGPORT", "--db_port"),
        ("PGUSER", "--db_user"),
        ("PGPASSWORD", "--db_password"),
    ):
        if os.environ.get(variable):
            command.append(f"{option}={os.environ[variable]}")
    return command


def start_server(
    database,
    port,
    gevent_port,
    workers,
    log_path,
    addons_path=ADDONS_DIR,
    timeout=120,
):
    """Start Odoo with ``workers`` HTTP workers, wait until it responds to
    ``/web/health`` and return ``(process, url)``.

    The server runs in a session of its own, so that ``stop_server`` can end
    its workers and websocket process with it.
    """
    if workers < 1:
        raise ServerError("multi-worker mode needs at least one worker")
    command = [
        *odoo_command(database, addons_path),
        f"--http-port={port}",
        f"--gevent-port={gevent_port}",
        f"--workers={workers}",
        "--max-cron-threads=0",
        "--log-level=warn",
    ]
    with open(log_path, "w", encoding="utf-8") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            stop_server(server)
            raise ServerError(
                f"the Odoo server exited with code {server.returncode}; see {log_path}"
            )
        try:
            with urllib.request.urlopen(f"{url}/web/health", timeout=5) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(1)
    stop_server(server)
    raise ServerError(
        f"the Odoo server did not respond on {url} within {timeout} s; see {log_path}"
    )


def stop_server(server):
    """Stop the server with SIGTERM, then kill what is left of its session
    (workers, websocket process) if it does not stop within a minute."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
    # The server leads its own process group (start_new_session): this ends
    # the children that outlived it, and only them.
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait()


def gevent_pids(server):
    """Return the pids of the websocket (``gevent``) children of the server."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.pid and b"gevent" in arguments:
            pids.append(int(entry.name))
    return sorted(pids)


def check_gevent(server, gevent_port, timeout=60):
    """Wait until the websocket process responds on its port; return its pid,
    or None if it did not within ``timeout`` seconds.

    In multi-worker mode Odoo starts it as a child process and starts it
    again whenever it exits, so a process that cannot start shows up as a
    new pid at every look and never responds.
    """
    url = f"http://127.0.0.1:{gevent_port}/web/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    pids = gevent_pids(server)
                    if len(pids) == 1:
                        return pids[0]
        except OSError:
            pass
        time.sleep(1)
    return None
