"""Contract tests of the reference bridge against a fake radkit_client (fake/radkit_client).

Run: cd tools/radkit-bridge && python3 -m unittest -v test_bridge
"""

import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fake"))
sys.path.insert(0, HERE)
os.environ["FAKE_RADKIT_SLOW_SECONDS"] = "0.6"

import bridge  # noqa: E402

TOKEN = "test-token"


class BridgeContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        radkit = bridge.RadkitService("tester@example.com", "abcd-1234-efgh")
        b = bridge.Bridge(radkit, TOKEN, sync_wait=0.3)
        cls.server = ThreadingHTTPServer(("127.0.0.1", 0), bridge.handler_for(b))
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        bridge.sys.stderr = open(os.devnull, "w")  # request log lines

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def request(self, method, path, body=None, token=TOKEN):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read()), resp.headers
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read()), e.headers

    def exec(self, device, commands, **kw):
        body = {"commands": commands, "timeout_s": kw.get("timeout_s", 30), "max_lines": kw.get("max_lines", 1000)}
        return self.request("POST", "/v1/devices/%s/exec" % device, body)

    def test_token_required(self):
        for token in (None, "wrong"):
            status, body, headers = self.request("GET", "/v1/devices", token=token)
            self.assertEqual(status, 401)
            self.assertEqual(body["error"]["code"], "unauthorized")
            self.assertIn("Bearer", headers["WWW-Authenticate"])

    def test_health(self):
        self.assertEqual(self.request("GET", "/v1/health")[:2], (200, {"status": "ok", "radkit": "connected"}))

    def test_devices_and_filters(self):
        status, body, _ = self.request("GET", "/v1/devices")
        self.assertEqual(status, 200)
        names = [d["name"] for d in body["devices"]]
        self.assertEqual(names, ["lon-b1-core-01", "lon-b1-acc-01", "nyc-hq-dc-01", "slow-sw-01", "stuck-sw-01", "dead-rtr-01"])
        core = body["devices"][0]
        self.assertEqual(core, {"name": "lon-b1-core-01", "host": "10.10.0.1", "device_type": "IOS_XE", "site": "lon-b1",
                                "labels": ["core"], "description": "fake IOS_XE device"})
        for query, want in {"name=LON": 2, "device_type=nxos": 1, "site=lab": 3, "label=core": 1, "site=lab&device_type=IOS_XR": 1}.items():
            self.assertEqual(len(self.request("GET", "/v1/devices?" + query)[1]["devices"]), want, query)

    def test_device(self):
        status, body, _ = self.request("GET", "/v1/devices/nyc-hq-dc-01")
        self.assertEqual(status, 200)
        self.assertEqual(body["device_type"], "NXOS")
        self.assertEqual(body["attributes"]["serial"], "FAKENYC-HQ")
        status, body, _ = self.request("GET", "/v1/devices/nope")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))

    def test_exec_sync(self):
        status, body, _ = self.exec("lon-b1-core-01", ["show version", "show clock", "show flux"])
        self.assertEqual(status, 200)
        self.assertEqual(body["device"], "lon-b1-core-01")
        v, c, bad = body["results"]
        self.assertEqual((v["command"], v["status"], v["truncated"]), ("show version", "ok", False))
        self.assertIn("lon-b1-core-01 uptime is", v["output"])
        self.assertEqual(c, {"command": "show clock", "status": "ok", "output": "*09:00:00.000 UTC Mon Mar 3 2025\n",
                             "lines": 1, "truncated": False})
        self.assertIn("% Invalid input", bad["output"])  # the adapter, not the bridge, reads device errors

    def test_exec_truncates(self):
        status, body, _ = self.exec("lon-b1-core-01", ["show logging"], max_lines=10)
        r = body["results"][0]
        self.assertEqual((status, r["lines"], r["truncated"], r["output"].count("\n")), (200, 60, True, 10))

    def test_exec_job(self):
        status, body, headers = self.exec("slow-sw-01", ["show clock"])
        self.assertEqual(status, 202)
        self.assertEqual(body["status"], "running")
        self.assertEqual(headers["Location"], "/v1/jobs/" + body["job_id"])
        job = self.poll(body["job_id"])
        self.assertEqual(job["status"], "done")
        self.assertEqual(job["result"]["results"][0]["output"], "*09:00:00.000 UTC Mon Mar 3 2025\n")
        self.assertEqual(self.request("GET", "/v1/jobs/job-unknown")[0], 404)

    def poll(self, job_id):
        for _ in range(100):
            _, job, _ = self.request("GET", "/v1/jobs/" + job_id)
            if job["status"] != "running":
                return job
            time.sleep(0.05)
        self.fail("job %s still running" % job_id)

    def test_exec_timeout(self):
        status, body, _ = self.exec("stuck-sw-01", ["show clock", "show version"], timeout_s=1)
        self.assertEqual(status, 202)
        results = self.poll(body["job_id"])["result"]["results"]
        self.assertEqual([r["status"] for r in results], ["timeout", "timeout"])
        self.assertIn("Timeout", results[0]["error"])

    def test_exec_unreachable(self):
        status, body, _ = self.exec("dead-rtr-01", ["show version"])
        self.assertEqual((status, body["error"]["code"]), (502, "device_unreachable"))
        self.assertIn("dead-rtr-01", body["error"]["message"])

    def test_exec_unknown_device(self):
        self.assertEqual(self.exec("nope", ["show version"])[0], 404)

    def test_refusals(self):
        for command in ["conf t", "configure terminal", "reload", "write memory", "copy running-config startup-config",
                        "show version ; reload", "show clock && reload", "show version\nreload", "show\tversion",
                        "show run | redirect flash:x", "show run | tee x", "show run > x", "ping", "ping vrf MGMT",
                        "\u0455how version", "sh ver", "show  version", " show version", "show run|include x", ""]:
            status, body, _ = self.exec("lon-b1-core-01", [command])
            self.assertEqual((status, body["error"]["code"]), (422, "refused"), command)
        for command in ["show version", "show running-config | include hostname", "ping vrf MGMT 10.0.0.1", "traceroute 10.0.0.1"]:
            self.assertIsNone(bridge.refusal(command), command)

    def test_bad_requests(self):
        for body in [None, [], {"commands": []}, {"commands": ["show clock"] * 21}, {"commands": ["show clock"], "timeout_s": 0},
                     {"commands": ["show clock"], "max_lines": 20001}, {"commands": ["show clock"], "extra": 1},
                     {"commands": "show clock"}]:
            status, resp, _ = self.request("POST", "/v1/devices/lon-b1-core-01/exec", body)
            self.assertEqual((status, resp["error"]["code"]), (400, "bad_request"), body)
        self.assertEqual(self.request("GET", "/v1/nothing")[0], 404)
        # A body announced larger than 1 MiB is refused before it is read.
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        conn.putrequest("POST", "/v1/devices/lon-b1-core-01/exec")
        conn.putheader("Authorization", "Bearer " + TOKEN)
        conn.putheader("Content-Length", str(2 << 20))
        conn.endheaders()
        resp = conn.getresponse()
        self.assertEqual((resp.status, json.loads(resp.read())["error"]["code"]), (413, "bad_request"))
        conn.close()


if __name__ == "__main__":
    unittest.main()
