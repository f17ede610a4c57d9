#!/usr/bin/env python3
"""Reference RADKit bridge: the HTTP contract of docs/radkit-bridge.md on radkit_client.

Gatehouse's RADKit adapter (adapters/radkit) is written in Go; RADKit's client is a Python SDK.
This bridge is the small piece in between: JSON over HTTP(S) with a bearer token, on the Python
standard library only. Everything that touches radkit_client is in the class RadkitService, so
the dependency surface is one class.

Configuration (environment):
  RADKIT_BRIDGE_LISTEN        host:port to serve on (default 127.0.0.1:8443; port 0 picks one)
  RADKIT_BRIDGE_TOKEN_FILE    file with the bearer token callers must send (or RADKIT_BRIDGE_TOKEN)
  RADKIT_BRIDGE_TLS_CERT/KEY  PEM files: serve HTTPS (recommended whenever the adapter is remote)
  RADKIT_BRIDGE_SYNC_WAIT     seconds an exec is waited for before answering 202 with a job (10)
  RADKIT_BRIDGE_PER_DEVICE    command runs per device at once (2)
  RADKIT_IDENTITY             RADKit client identity (the certificate's email)
  RADKIT_SERVICE_SERIAL       serial of the RADKit service to use
  RADKIT_CA_PATH, RADKIT_CERT_PATH, RADKIT_KEY_PATH, RADKIT_KEY_PASSWORD_FILE
                              the identity's certificate files (RADKit's defaults when unset)
"""

import hmac
import json
import os
import re
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

MAX_COMMANDS = 20
MAX_TIMEOUT_S = 300
MAX_LINES = 20000
JOB_TTL_S = 600

# --- what the bridge refuses itself (docs/radkit-bridge.md, "What the bridge refuses") -------

_ALLOWED_FIRST = {"show", "ping", "traceroute"}
_ALLOWED_FILTERS = {"include", "exclude", "begin", "section", "count"}
_BAD_CHARS = re.compile(r"[;&<>`?]|\$\(")
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


def refusal(command):
    """Why command is refused, or None. Commands arrive in the adapter's normal form."""
    if not isinstance(command, str) or not command:
        return "every command must be a non-empty string"
    if not _PRINTABLE.match(command):
        return "only printable ASCII is accepted (no line breaks, tabs or control characters)"
    if len(command) > 512:
        return "it is longer than 512 characters"
    m = _BAD_CHARS.search(command)
    if m:
        return "it contains %r, which could chain, redirect or alter commands" % m.group(0)
    if command != " ".join(command.split()):
        return "it is not in normal form (single spaces, no leading or trailing space)"
    base, *filters = command.split(" | ")
    if "|" in base or any("|" in f for f in filters):
        return "pipes must be written ' | '"
    words = base.split(" ")
    if words[0] not in _ALLOWED_FIRST:
        return "the bridge runs only show, ping and traceroute commands"
    if words[0] != "show":
        args = words[1:]
        if args[:1] == ["vrf"]:
            args = args[2:]
        if args[:1] in (["ip"], ["ipv6"]):
            args = args[1:]
        if not args:
            return "%s needs a target" % words[0]
    for f in filters:
        if f.split(" ")[0] not in _ALLOWED_FILTERS:
            return "the output filter %r is not allowed" % f.split(" ")[0]
    return None


# --- RADKit: the only code that touches radkit_client ----------------------------------------


class RadkitService:
    """One logged-in RADKit client and the service it uses."""

    def __init__(self, identity, serial, ca_path=None, cert_path=None, key_path=None, key_password=None):
        from radkit_client.sync import Client  # imported here: the rest of the bridge needs no RADKit

        self._context = Client.create()
        client = self._context.__enter__()
        client.certificate_login(identity=identity, ca_path=ca_path, cert_path=cert_path,
                                 key_path=key_path, private_key_password=key_password)
        self._service = client.service(serial).wait()

    def close(self):
        self._context.__exit__(None, None, None)

    @staticmethod
    def _device(d, attributes):
        labels = sorted(str(x) for x in (d.labels or []))
        site = next((x[5:] for x in labels if x.startswith("site:")), "")
        dtype = getattr(d.device_type, "value", d.device_type)
        out = {"name": d.name, "host": d.host, "device_type": str(dtype), "site": site,
               "labels": [x for x in labels if not x.startswith("site:")], "description": d.description or ""}
        if attributes:
            internal = getattr(getattr(d, "attributes", None), "internal", None) or {}
            out["attributes"] = {str(k): str(v) for k, v in dict(internal).items()}
            out["attributes"]["forwarded_tcp_ports"] = str(getattr(d, "forwarded_tcp_ports", "") or "")
        return out

    def devices(self):
        inventory = self._service.inventory
        return [self._device(inventory[name], False) for name in inventory]

    def device(self, name):
        inventory = self._service.inventory
        return self._device(inventory[name], True) if name in inventory else None

    def exec(self, name, commands, timeout_s):
        """Runs commands on one device: a list of (status, output, error), one per command."""
        device = self._service.inventory[name]
        request = device.exec(list(commands), timeout=timeout_s).wait(timeout_s * len(commands) + 30)
        out = []
        for command in commands:
            r = request.result[command]
            status = str(getattr(r.status, "name", r.status))
            if status == "SUCCESS":
                out.append(("ok", r.data or "", ""))
            else:
                message = str(getattr(r, "status_message", "") or status)
                out.append(("timeout" if "timeout" in message.lower() else "failed", r.data or "", message))
        return out

    def unreachable(self, error):
        """Whether an exception from exec means the device could not be reached at all."""
        text = str(error).lower()
        return any(w in text for w in ("unreachable", "refused", "timed out", "no route", "connection"))


# --- the HTTP contract ------------------------------------------------------------------------


class BridgeError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Bridge:
    def __init__(self, radkit, token, sync_wait=10.0, per_device=2):
        self.radkit, self.token, self.sync_wait, self.per_device = radkit, token, sync_wait, per_device
        self.jobs, self.lock, self.slots = {}, threading.Lock(), {}

    def _slot(self, name):
        with self.lock:
            return self.slots.setdefault(name, threading.BoundedSemaphore(self.per_device))

    def _names(self):
        return {d["name"] for d in self.radkit.devices()}

    def list_devices(self, query):
        out = []
        for d in self.radkit.devices():
            if query.get("name") and query["name"].lower() not in d["name"].lower():
                continue
            if query.get("device_type") and query["device_type"].lower() != d["device_type"].lower():
                continue
            if query.get("site") and query["site"].lower() != d["site"].lower():
                continue
            if query.get("label") and query["label"].lower() not in (x.lower() for x in d["labels"]):
                continue
            out.append(d)
        return {"devices": out}

    def get_device(self, name):
        d = self.radkit.device(name)
        if d is None:
            raise BridgeError(404, "not_found", "no device %r in the RADKit inventory" % name)
        return d

    def exec(self, name, body):
        if not isinstance(body, dict) or set(body) - {"commands", "timeout_s", "max_lines"}:
            raise BridgeError(400, "bad_request", "the body must be {commands, timeout_s, max_lines}")
        commands, timeout_s, max_lines = body.get("commands"), body.get("timeout_s", 30), body.get("max_lines", 1000)
        if not isinstance(commands, list) or not 1 <= len(commands) <= MAX_COMMANDS:
            raise BridgeError(400, "bad_request", "commands must hold 1 to %d commands" % MAX_COMMANDS)
        if not isinstance(timeout_s, int) or not 1 <= timeout_s <= MAX_TIMEOUT_S:
            raise BridgeError(400, "bad_request", "timeout_s must be 1 to %d" % MAX_TIMEOUT_S)
        if not isinstance(max_lines, int) or not 1 <= max_lines <= MAX_LINES:
            raise BridgeError(400, "bad_request", "max_lines must be 1 to %d" % MAX_LINES)
        for c in commands:
            why = refusal(c)
            if why:
                raise BridgeError(422, "refused", "command %r is refused: %s" % (c, why))
        if name not in self._names():
            raise BridgeError(404, "not_found", "no device %r in the RADKit inventory" % name)
        job = {"id": "job-" + uuid.uuid4().hex[:16], "done": threading.Event(), "result": None, "error": None}

        def work():
            try:
                with self._slot(name):
                    runs = self.radkit.exec(name, commands, timeout_s)
                results = []
                for c, (status, output, error) in zip(commands, runs):
                    lines = output.rstrip("\n").split("\n") if output.strip("\n") else []
                    kept = lines[:max_lines]
                    r = {"command": c, "status": status, "output": "\n".join(kept) + ("\n" if kept else ""),
                         "lines": len(lines), "truncated": len(lines) > max_lines}
                    if error:
                        r["error"] = error
                    results.append(r)
                job["result"] = {"device": name, "results": results}
            except Exception as e:  # the device, not the bridge, failed
                if self.radkit.unreachable(e):
                    job["error"] = BridgeError(502, "device_unreachable", "%s could not be reached: %s" % (name, e))
                else:
                    job["error"] = BridgeError(502, "radkit_error", "RADKit could not run the commands on %s: %s" % (name, e))
            finally:
                job["finished"] = time.monotonic()
                job["done"].set()

        threading.Thread(target=work, daemon=True).start()
        if job["done"].wait(self.sync_wait):
            if job["error"]:
                raise job["error"]
            return 200, job["result"]
        with self.lock:
            self._expire()
            self.jobs[job["id"]] = job
        return 202, {"job_id": job["id"], "status": "running"}

    def _expire(self):
        now = time.monotonic()
        for k in [k for k, j in self.jobs.items() if j["done"].is_set() and now - j["finished"] > JOB_TTL_S]:
            del self.jobs[k]

    def get_job(self, job_id):
        with self.lock:
            self._expire()
            job = self.jobs.get(job_id)
        if job is None:
            raise BridgeError(404, "not_found", "no such job (unknown, or finished more than 10 minutes ago)")
        if not job["done"].is_set():
            return {"job_id": job_id, "status": "running"}
        if job["error"]:
            return {"job_id": job_id, "status": "failed", "error": {"code": job["error"].code, "message": job["error"].message}}
        return {"job_id": job_id, "status": "done", "result": job["result"]}


def handler_for(bridge):
    class Handler(BaseHTTPRequestHandler):
        server_version = "gatehouse-radkit-bridge/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # one line per request on stderr, never a body
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

        def _send(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self):
            auth = self.headers.get("Authorization", "")
            ok = auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), bridge.token.encode())
            if not ok:
                self._send(401, {"error": {"code": "unauthorized", "message": "a valid bearer token is required"}},
                           [("WWW-Authenticate", 'Bearer realm="radkit-bridge"')])
            return ok

        def _route(self, method):
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p]
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            if length > 1 << 20:
                self.close_connection = True
                return self._send(413, {"error": {"code": "bad_request", "message": "the body is larger than 1 MiB"}})
            raw = self.rfile.read(length) if length else b""
            if not self._authorized():
                return
            try:
                if method == "GET" and parts == ["v1", "health"]:
                    return self._send(200, {"status": "ok", "radkit": "connected"})
                if method == "GET" and parts == ["v1", "devices"]:
                    return self._send(200, bridge.list_devices(query))
                if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "devices"]:
                    return self._send(200, bridge.get_device(parts[2]))
                if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "devices"] and parts[3] == "exec":
                    try:
                        body = json.loads(raw or b"null")
                    except ValueError:
                        raise BridgeError(400, "bad_request", "the body is not JSON")
                    status, out = bridge.exec(parts[2], body)
                    headers = [("Location", "/v1/jobs/" + out["job_id"])] if status == 202 else []
                    return self._send(status, out, headers)
                if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "jobs"]:
                    return self._send(200, bridge.get_job(parts[2]))
                raise BridgeError(404, "not_found", "no such endpoint: %s %s" % (method, url.path))
            except BridgeError as e:
                self._send(e.status, {"error": {"code": e.code, "message": e.message}})
            except Exception as e:  # RADKit itself failed: say so, never a traceback
                self._send(503, {"error": {"code": "service_unavailable", "message": "RADKit: %s" % e}})

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

    return Handler


def _read(path):
    with open(path) as f:
        return f.read().strip()


def main():
    env = os.environ.get
    token = _read(env("RADKIT_BRIDGE_TOKEN_FILE")) if env("RADKIT_BRIDGE_TOKEN_FILE") else env("RADKIT_BRIDGE_TOKEN", "")
    if not token:
        sys.exit("radkit-bridge: set RADKIT_BRIDGE_TOKEN_FILE (or RADKIT_BRIDGE_TOKEN)")
    if not env("RADKIT_IDENTITY") or not env("RADKIT_SERVICE_SERIAL"):
        sys.exit("radkit-bridge: set RADKIT_IDENTITY and RADKIT_SERVICE_SERIAL")
    password = _read(env("RADKIT_KEY_PASSWORD_FILE")) if env("RADKIT_KEY_PASSWORD_FILE") else None
    radkit = RadkitService(env("RADKIT_IDENTITY"), env("RADKIT_SERVICE_SERIAL"), env("RADKIT_CA_PATH"),
                           env("RADKIT_CERT_PATH"), env("RADKIT_KEY_PATH"), password)
    bridge = Bridge(radkit, token, float(env("RADKIT_BRIDGE_SYNC_WAIT", "10")), int(env("RADKIT_BRIDGE_PER_DEVICE", "2")))
    host, _, port = env("RADKIT_BRIDGE_LISTEN", "127.0.0.1:8443").rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), handler_for(bridge))
    scheme = "http"
    if env("RADKIT_BRIDGE_TLS_CERT"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(env("RADKIT_BRIDGE_TLS_CERT"), env("RADKIT_BRIDGE_TLS_KEY"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    print("radkit-bridge listening on %s://%s:%d" % (scheme, host, server.server_address[1]), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        radkit.close()


if __name__ == "__main__":
    main()
