"""Start and stop a throw-away etcd, and talk to it through its JSON gRPC-gateway.

The client turns every real response into the model's response dataclasses
(kubeproof.model.apiserver.etcd), so a conformance check is a plain ``==``. Gateway quirks
(research/etcd.md §4): bytes are base64, int64 values are strings, fields holding their default
value are left out, and errors come back as HTTP 4xx/5xx with ``{"error", "message", "code"}``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kubeproof.model.apiserver.etcd import (
    Compacted,
    CompactResponse,
    Compare,
    DeleteRange,
    DeleteRangeResponse,
    EtcdError,
    Event,
    KeyValue,
    Put,
    PutResponse,
    Range,
    RangeResponse,
    Txn,
    TxnResponse,
)

ETCD_BINARY = "/usr/bin/etcd"
NOT_INSTALLED = "etcd-server is not installed: apt-get install etcd-server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _unb64(s: str | None) -> str:
    return base64.b64decode(s).decode() if s else ""


@dataclass
class EtcdServer:
    """One running etcd process with its own data directory."""

    process: subprocess.Popen
    client_port: int
    data_dir: str

    @property
    def pid(self) -> int:
        return self.process.pid


def start_etcd(binary: str = ETCD_BINARY, timeout: float = 10.0) -> EtcdServer:
    """Start etcd on 127.0.0.1 with free ports and a fresh data dir; wait for GET /health."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None  # tmpfs: etcd fsyncs every write
    data_dir = tempfile.mkdtemp(prefix="kubeproof-etcd-", dir=base)
    for _attempt in range(5):
        client_port, peer_port = _free_port(), _free_port()
        if client_port == peer_port:
            continue
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        cmd = [
            binary,
            "--name",
            "kubeproof",
            "--data-dir",
            os.path.join(data_dir, "member"),
            "--listen-client-urls",
            client_url,
            "--advertise-client-urls",
            client_url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            f"kubeproof={peer_url}",
            "--heartbeat-interval",
            "10",
            "--election-timeout",
            "100",
            "--log-level",
            "error",
            "--logger",
            "zap",
        ]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        server = EtcdServer(proc, client_port, data_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break  # exited: maybe a port race; try other ports
            if _healthy(client_port):
                return server
            time.sleep(0.01)
        stderr = _stop_process(proc)
        if time.monotonic() >= deadline:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise RuntimeError(f"etcd did not become healthy in {timeout}s: {stderr[-2000:]}")
        shutil.rmtree(os.path.join(data_dir, "member"), ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    raise RuntimeError("etcd could not start (port races?)")


def _healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
    except OSError:
        return False
    return resp.status == 200 and json.loads(body).get("health") == "true"


def _stop_process(proc: subprocess.Popen) -> str:
    """Terminate, wait, then kill: only this process, by its pid."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return err


def stop_etcd(server: EtcdServer) -> None:
    try:
        _stop_process(server.process)
    finally:
        shutil.rmtree(server.data_dir, ignore_errors=True)


@contextlib.contextmanager
def running_etcd(binary: str = ETCD_BINARY) -> Iterator[EtcdServer]:
    """A fresh etcd (revision 1, empty) for the duration of the block."""
    server = start_etcd(binary)
    try:
        yield server
    finally:
        stop_etcd(server)


# --------------------------------------------------------------------------- decoding


def decode_kv(d: dict | None, *, keys_only: bool = False) -> KeyValue | None:
    if d is None:
        return None
    return KeyValue(
        key=_unb64(d.get("key")),
        value=None if keys_only else _unb64(d.get("value")),
        create_revision=int(d.get("create_revision", 0)),
        mod_revision=int(d.get("mod_revision", 0)),
        version=int(d.get("version", 0)),
        lease=int(d.get("lease", 0)),
    )


def decode_event(d: dict) -> Event:
    typ = d.get("type", "PUT")
    kv = decode_kv(d["kv"])
    if typ == "DELETE":  # a tombstone has no value; the model writes None
        kv = KeyValue(kv.key, None, kv.create_revision, kv.mod_revision, kv.version, kv.lease)
    return Event(typ, kv, decode_kv(d.get("prev_kv")))


def _header_rev(d: dict) -> int:
    return int(d.get("header", {}).get("revision", 0))


def decode_put(d: dict) -> PutResponse:
    return PutResponse(_header_rev(d), decode_kv(d.get("prev_kv")))


def decode_delete(d: dict) -> DeleteRangeResponse:
    return DeleteRangeResponse(
        _header_rev(d),
        int(d.get("deleted", 0)),
        tuple(decode_kv(kv) for kv in d.get("prev_kvs", ())),
    )


def decode_range(d: dict, *, keys_only: bool = False) -> RangeResponse:
    return RangeResponse(
        _header_rev(d),
        tuple(decode_kv(kv, keys_only=keys_only) for kv in d.get("kvs", ())),
        int(d.get("count", 0)),
        bool(d.get("more", False)),
    )


def decode_txn(d: dict, txn: Txn) -> TxnResponse:
    succeeded = bool(d.get("succeeded", False))
    ops = txn.success if succeeded else txn.failure
    resps = d.get("responses", ())
    out = []
    for op, r in zip(ops, resps, strict=True):
        if isinstance(op, Put):
            out.append(decode_put(r.get("response_put", {})))
        elif isinstance(op, DeleteRange):
            out.append(decode_delete(r.get("response_delete_range", {})))
        elif isinstance(op, Range):
            out.append(decode_range(r.get("response_range", {}), keys_only=op.keys_only))
        else:
            out.append(decode_txn(r.get("response_txn", {}), op))
    return TxnResponse(_header_rev(d), succeeded, tuple(out))


# --------------------------------------------------------------------------- encoding


def _range_fields(key: str, range_end: str | None) -> dict:
    d = {"key": _b64(key)}
    if range_end:
        d["range_end"] = _b64(range_end)
    return d


def encode_put(op: Put) -> dict:
    d = {"key": _b64(op.key), "value": _b64(op.value)}
    if op.prev_kv:
        d["prev_kv"] = True
    return d


def encode_delete(op: DeleteRange) -> dict:
    d = _range_fields(op.key, op.range_end)
    if op.prev_kv:
        d["prev_kv"] = True
    return d


def encode_range(op: Range) -> dict:
    d = _range_fields(op.key, op.range_end)
    if op.revision:
        d["revision"] = str(op.revision)
    if op.limit:
        d["limit"] = str(op.limit)
    if op.count_only:
        d["count_only"] = True
    if op.keys_only:
        d["keys_only"] = True
    return d


_COMPARE_FIELD = {
    "VALUE": "value",
    "VERSION": "version",
    "CREATE": "create_revision",
    "MOD": "mod_revision",
    "LEASE": "lease",
}


def encode_compare(c: Compare) -> dict:
    d = _range_fields(c.key, c.range_end)
    d["target"] = c.target
    d["result"] = c.result
    d[_COMPARE_FIELD[c.target]] = _b64(c.operand) if c.target == "VALUE" else str(c.operand)
    return d


def encode_op(op) -> dict:
    if isinstance(op, Put):
        return {"request_put": encode_put(op)}
    if isinstance(op, DeleteRange):
        return {"request_delete_range": encode_delete(op)}
    if isinstance(op, Range):
        return {"request_range": encode_range(op)}
    return {"request_txn": encode_txn(op)}


def encode_txn(t: Txn) -> dict:
    return {
        "compare": [encode_compare(c) for c in t.compare],
        "success": [encode_op(op) for op in t.success],
        "failure": [encode_op(op) for op in t.failure],
    }


# --------------------------------------------------------------------------- client


class EtcdClient:
    """A keep-alive JSON client for /v3/kv/* that answers with the model's dataclasses."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()

    def call(self, path: str, body: dict) -> tuple[dict | None, EtcdError | None]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        try:
            self.conn.request("POST", path, body=data, headers=headers)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()  # keep-alive connection dropped: retry once on a new one
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request("POST", path, body=data, headers=headers)
            resp = self.conn.getresponse()
        out = json.loads(resp.read() or b"{}")
        if resp.status != 200:
            return None, EtcdError(int(out["code"]), out.get("message") or out.get("error", ""))
        return out, None

    def apply(self, request):
        """Send one model request; answer like the model's apply (without the store)."""
        if isinstance(request, Put):
            d, err = self.call("/v3/kv/put", encode_put(request))
            return err or decode_put(d)
        if isinstance(request, DeleteRange):
            d, err = self.call("/v3/kv/deleterange", encode_delete(request))
            return err or decode_delete(d)
        if isinstance(request, Range):
            d, err = self.call("/v3/kv/range", encode_range(request))
            return err or decode_range(d, keys_only=request.keys_only)
        if isinstance(request, Txn):
            d, err = self.call("/v3/kv/txn", encode_txn(request))
            return err or decode_txn(d, request)
        # Compact. physical=true waits until the compaction has reached the backend, so what
        # follows (reads, watches from old revisions) sees a settled store, not a race.
        body = {"revision": str(request.revision), "physical": True}
        d, err = self.call("/v3/kv/compaction", body)
        return err or CompactResponse(_header_rev(d))


# --------------------------------------------------------------------------- watch


class Watch:
    """One watch over HTTP/1.1: POST /v3/watch with a create_request, read the stream.

    A reader thread collects events (flattened across responses) until the stream ends or
    the watch is closed. ``compacted`` is set when etcd cancels it with a compact revision.
    """

    def __init__(
        self,
        port: int,
        key: str,
        range_end: str | None = None,
        *,
        start_revision: int = 0,
        prev_kv: bool = False,
    ):
        req: dict = _range_fields(key, range_end)
        if start_revision:
            req["start_revision"] = str(start_revision)
        if prev_kv:
            req["prev_kv"] = True
        self.events: list[Event] = []
        self.responses: list[dict] = []
        self.compacted: Compacted | None = None
        self.canceled = False
        self.error: BaseException | None = None
        self.cond = threading.Condition()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"create_request": req}).encode()
        self.conn.request("POST", "/v3/watch", body=body)
        self.resp = self.conn.getresponse()
        first = json.loads(self.resp.readline())["result"]
        assert first.get("created"), first
        self.responses.append(first)
        self._closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                msg = json.loads(line)
                if "result" not in msg:  # in-band error, e.g. the server is stopping
                    return
                r = msg["result"]
                with self.cond:
                    self.responses.append(r)
                    self.events.extend(decode_event(e) for e in r.get("events", ()))
                    if r.get("canceled"):
                        self.canceled = True
                        if int(r.get("compact_revision", 0)):
                            self.compacted = Compacted(int(r["compact_revision"]))
                    self.cond.notify_all()
                    if self.canceled:
                        return
        except (OSError, ValueError, http.client.HTTPException, AttributeError) as e:
            if not self._closed:
                self.error = e
        finally:
            with self.cond:
                self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Wait until predicate(self) holds (checked under the lock)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0 or not self.thread.is_alive():
                    return predicate(self)
                self.cond.wait(left)
            return True

    def wait_revision(self, revision: int, timeout: float = 5.0) -> bool:
        """Wait until an event at ``revision`` or later arrived (or the watch ended)."""
        return self.wait_for(
            lambda w: w.canceled or (w.events and w.events[-1].kv.mod_revision >= revision),
            timeout,
        )

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.conn.sock and self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()
        self.thread.join(timeout=5)
