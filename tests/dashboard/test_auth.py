"""The dashboard is private unless asked not to be: loopback by default, a password or an explicit no to leave it.

Real `akker dashboard` and `akker gateway run` processes on real sockets, the
password file written by the real `akker dashboard passwd` (from a pipe and
from a terminal), and DashboardServer over real HTTP with Basic auth.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import listen
from gateway.dashboard import auth
from gateway.dashboard.server import DashboardServer
from tests.farm.farm import NOW
from tests.processes import wait_for_log

AKKER = str(Path(sys.executable).parent / "akker")
PASSWORD = "correct horse battery staple"


def get(url: str, password: str | None = None, user: str = "farmer") -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url)
    if password is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def passwd(path: Path, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AKKER, "dashboard", "passwd", str(path)], input=password + "\n",
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_on(port: int) -> str:
    """The local address a TCP port listens on, as the kernel has it (`ss`)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    assert out.strip(), f"nothing listens on {port}"
    return out.split()[3].rsplit(":", 1)[0]


@pytest.fixture(scope="module")
def password_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "dashboard.passwd"
    result = passwd(path)
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def locked(farm_db: Path, password_file: Path) -> Iterator[DashboardServer]:
    with DashboardServer(farm_db, port=0, now=lambda: NOW, password=auth.load_password_file(password_file)) as s:
        yield s


# ------------------------------------------------------------ where it listens


@pytest.mark.parametrize("text", ["8080", ":8080"])
def test_a_bare_port_means_this_computer_only(text: str) -> None:
    assert listen.parse_http(text) == ("127.0.0.1", 8080)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:8080", ("::1", 8080)), ("localhost:0", ("localhost", 0))],
)
def test_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert listen.parse_http(text) == expected


@pytest.mark.parametrize("text", ["localhost", "", "host:", "host:70000", "host:8o"])
def test_what_is_not_an_address_says_what_is(text: str) -> None:
    with pytest.raises(listen.AccessError, match="use HOST:PORT"):
        listen.parse_http(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("farm-pi.local", False)],
)  # fmt: skip
def test_what_counts_as_this_computer_only(host: str, loopback: bool) -> None:
    assert listen.is_loopback(host) is loopback


def test_akker_dashboard_with_a_bare_port_serves_this_computer_only(farm_db: Path) -> None:
    proc = subprocess.Popen([AKKER, "dashboard", "--db", str(farm_db), "--http", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
        assert url
        assert listening_on(int(url.group(1))) == "127.0.0.1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.communicate()


def run_bridge(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        udp = u.getsockname()[1]
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([AKKER, "gateway", "run", "--db", str(tmp_path / "farm.db"), "--udp",
                                 f"127.0.0.1:{udp}", *args], stdout=out, stderr=out)  # fmt: skip
    try:
        wait_for_log(log, "running", proc)
    except AssertionError:
        proc.kill()
        proc.wait()
        raise
    return proc, log


def stop_bridge(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(15)
    finally:
        proc.kill()
        proc.wait()


def test_akker_gateway_run_with_a_bare_port_serves_this_computer_only(tmp_path: Path) -> None:
    port = free_port()
    proc, log = run_bridge(tmp_path, "--http", f":{port}")
    try:
        assert listening_on(port) == "127.0.0.1"
    finally:
        assert stop_bridge(proc) == 0, log.read_text()


# ------------------------------------------------------------ beyond this computer: a password, or an explicit no


@pytest.mark.parametrize("command", ["dashboard", "gateway"])
def test_the_network_without_a_password_or_an_explicit_no_is_a_one_line_error(
    farm_db: Path, tmp_path: Path, command: str
) -> None:
    args = (["dashboard", "--db", str(farm_db)] if command == "dashboard"
            else ["gateway", "run", "--db", str(tmp_path / "b.db"), "--udp", "127.0.0.1:0"])  # fmt: skip
    try:
        result = subprocess.run([AKKER, *args, "--http", "0.0.0.0:0"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"akker {command} served 0.0.0.0 without a password and without being told to")
    assert result.returncode == 2 and result.stderr.startswith("akker: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--http-password-file" in result.stderr and "akker dashboard passwd" in result.stderr
    assert "--http-no-auth" in result.stderr


def test_an_explicit_no_auth_serves_the_network_with_a_warning(farm_db: Path) -> None:
    proc = subprocess.Popen([AKKER, "dashboard", "--db", str(farm_db), "--http", "0.0.0.0:0", "--http-no-auth"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        port = re.search(r"http://0\.0\.0\.0:(\d+)/", proc.stdout.readline())
        assert port
        assert get(f"http://127.0.0.1:{port.group(1)}/api/alerts")[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        _, err = proc.communicate()
    assert "warning" in err and "no password" in err


def test_akker_dashboard_behind_a_password(farm_db: Path, password_file: Path) -> None:
    args = ["--db", str(farm_db), "--http", "0.0.0.0:0", "--http-password-file", str(password_file)]
    proc = subprocess.Popen([AKKER, "dashboard", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = re.search(r"http://0\.0\.0\.0:(\d+)/", proc.stdout.readline())
        assert port
        url = f"http://127.0.0.1:{port.group(1)}/api/nodes"
        assert get(url)[0] == 401
        assert get(url, "wrong")[0] == 401
        assert get(url, PASSWORD)[0] == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        out, err = proc.communicate()
    assert PASSWORD not in out + err and "warning" not in err


def test_akker_gateway_run_behind_a_password_from_the_config_file(tmp_path: Path, password_file: Path) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(f'http = "0.0.0.0:{port}"\nhttp_password_file = "{password_file}"\n')
    proc, log = run_bridge(tmp_path, "--config", str(config))
    try:
        assert get(f"http://127.0.0.1:{port}/api/alerts")[0] == 401
        assert get(f"http://127.0.0.1:{port}/api/alerts", PASSWORD)[0] == 200
    finally:
        assert stop_bridge(proc) == 0, log.read_text()
    assert PASSWORD not in log.read_text()


def test_akker_gateway_run_with_no_auth_warns(tmp_path: Path) -> None:
    proc, log = run_bridge(tmp_path, "--http", f"0.0.0.0:{free_port()}", "--http-no-auth")
    assert stop_bridge(proc) == 0
    assert re.search(r"warning .*no password", log.read_text()), log.read_text()


def test_a_password_file_that_is_not_one_says_how_to_make_it(farm_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "passwd"
    bad.write_text(PASSWORD + "\n")  # the password itself, not its hash
    for args in (["dashboard", "--db", str(farm_db)], ["gateway", "run", "--db", str(tmp_path / "b.db"), "--udp",
                                                       "127.0.0.1:0"]):  # fmt: skip
        result = subprocess.run([AKKER, *args, "--http", "0.0.0.0:0", "--http-password-file", str(bad)],
                                capture_output=True, text=True, timeout=20)  # fmt: skip
        assert result.returncode == 2 and f"akker dashboard passwd {bad}" in result.stderr, result.stderr
        assert PASSWORD not in result.stderr and "Traceback" not in result.stderr
    missing = subprocess.run([AKKER, "dashboard", "--db", str(farm_db), "--http-password-file", str(tmp_path / "no")],
                             capture_output=True, text=True, timeout=20)  # fmt: skip
    assert missing.returncode == 2 and "akker dashboard passwd" in missing.stderr


def test_a_password_file_and_no_auth_together_are_refused(farm_db: Path, password_file: Path) -> None:
    args = ["--http", "0.0.0.0:0", "--http-no-auth", "--http-password-file", str(password_file)]
    result = subprocess.run(
        [AKKER, "dashboard", "--db", str(farm_db), *args], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2 and "not both" in result.stderr


# ------------------------------------------------------------ akker dashboard passwd


def test_passwd_from_a_pipe_writes_a_salted_scrypt_hash_readable_by_the_owner_only(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert passwd(one).returncode == 0 and passwd(two).returncode == 0
    assert oct(one.stat().st_mode & 0o777) == "0o600"
    text = one.read_text()
    assert PASSWORD not in text and text.startswith("scrypt$") and text != two.read_text()  # salted
    assert auth.load_password_file(one).matches(PASSWORD)
    assert not auth.load_password_file(one).matches(PASSWORD + " ")
    os.chmod(one, 0o644)
    assert passwd(one, "another password").returncode == 0  # a new password replaces the old, 0600 again
    assert oct(one.stat().st_mode & 0o777) == "0o600" and auth.load_password_file(one).matches("another password")


@pytest.mark.parametrize(("password", "message"), [("", "no password"), ("short", "at least 8")])
def test_passwd_refuses_an_empty_or_short_password(tmp_path: Path, password: str, message: str) -> None:
    result = passwd(tmp_path / "p", password)
    assert result.returncode == 2 and message in result.stderr and not (tmp_path / "p").exists()


def on_a_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run akker with a terminal as its controlling tty, typing each answer once its prompt has appeared."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, nothing else in a forked copy of a threaded process
        os.execv(AKKER, [AKKER, *args])
    out = b""
    deadline = time.monotonic() + 30

    def read() -> bytes:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"no prompt within 30 s; the terminal shows {out!r}")
        try:
            return os.read(fd, 1024)
        except OSError:  # EIO: the child has gone, and the terminal with it
            return b""

    try:
        for i, answer in enumerate(answers):
            # getpass flushes what was typed ahead, so each answer waits for its own prompt.
            while not (out.count(b"password") > i and out.rstrip().endswith(b":")):
                chunk = read()
                if not chunk:
                    break
                out += chunk
            os.write(fd, answer.encode() + b"\r")
        while chunk := read():
            out += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_passwd_on_a_terminal_asks_twice_and_echoes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "p"
    code, shown = on_a_terminal(["dashboard", "passwd", str(path)], [PASSWORD, PASSWORD])
    assert code == 0, shown
    assert PASSWORD not in shown and shown.count("password") >= 2
    assert auth.load_password_file(path).matches(PASSWORD)
    code, shown = on_a_terminal(["dashboard", "passwd", str(tmp_path / "q")], [PASSWORD, PASSWORD + "!"])
    assert code == 2 and "differ" in shown and not (tmp_path / "q").exists()


# ------------------------------------------------------------ the server behind a password


@pytest.mark.parametrize("path", ["", "node/north-1", "api/nodes", "api/nodes/north-1", "api/alerts",
                                  "static/dashboard.css", "static/vendor/LICENSE", "favicon.ico", "nope"])  # fmt: skip
def test_every_route_asks_for_the_password(locked: DashboardServer, path: str) -> None:
    status, headers, body = get(locked.url + path)
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="akker"'
    assert json.loads(body)["status"] == 401
    assert get(locked.url + path, "wrong password")[0] == 401
    assert get(locked.url + path, PASSWORD)[0] in (200, 204, 404)


@pytest.mark.parametrize(
    "header", ["Basic", "Basic !!!", "Bearer abc", "Basic " + base64.b64encode(PASSWORD.encode()).decode()]
)
def test_malformed_credentials_are_refused(locked: DashboardServer, header: str) -> None:
    req = urllib.request.Request(locked.url + "api/alerts", headers={"Authorization": header})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401


def test_the_password_is_compared_in_constant_time_on_the_scrypt_output(
    farm_db: Path, password_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    secret = auth.load_password_file(password_file)
    assert secret.matches(PASSWORD) and not secret.matches("wrong")
    assert compared == [(32, 32), (32, 32)]


def test_the_password_never_reaches_the_log(locked: DashboardServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="akker")
    for password in (PASSWORD, "a wrong one"):
        get(locked.url + "api/nodes", password)
    token = base64.b64encode(f"farmer:{PASSWORD}".encode()).decode()
    assert caplog.text and PASSWORD not in caplog.text and token not in caplog.text
    assert "a wrong one" not in caplog.text
