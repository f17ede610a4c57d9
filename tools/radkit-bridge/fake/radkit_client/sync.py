"""Fake radkit_client.sync (see the package docstring)."""

import enum
import os
import time


class DeviceType(enum.Enum):
    IOS_XE = "IOS_XE"
    NXOS = "NXOS"
    IOS_XR = "IOS_XR"


class ExecResultStatus(enum.Enum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


SHOW_VERSION = """Cisco IOS XE Software, Version 17.09.04a
Cisco IOS Software [Cupertino], Catalyst L3 Switch Software (CAT9K_IOSXE), Version 17.9.4a, RELEASE SOFTWARE (fc3)
Technical Support: http://www.cisco.com/techsupport

ROM: IOS-XE ROMMON

{name} uptime is 14 weeks, 1 day, 2 hours, 1 minute
System image file is "flash:packages.conf"
Last reload reason: Reload Command

cisco C9500-24Y4C (X86) processor with 1331521K/6147K bytes of memory.
Processor board ID FCW2231G0AB

Configuration register is 0x102
"""

IP_BRIEF = """Interface              IP-Address      OK? Method Status                Protocol
Vlan100                10.10.0.1       YES NVRAM  up                    up
Loopback0              10.10.255.1     YES NVRAM  up                    up
TwentyFiveGigE1/0/2    10.10.1.5       YES NVRAM  up                    down
"""

OUTPUTS = {
    "show version": SHOW_VERSION,
    "show ip interface brief": IP_BRIEF,
    "show clock": "*09:00:00.000 UTC Mon Mar 3 2025\n",
    "show logging": "".join("Mar  3 08:%02d:00.000: %%SYS-5-CONFIG_I: Configured from console by netops\n" % i for i in range(60)),
}


class _Attributes:
    def __init__(self, internal):
        self.internal = internal


class _Result:
    def __init__(self, status, data, message=""):
        self.status, self.data, self.status_message = status, data, message


class _Request:
    def __init__(self, result):
        self.result = result

    def wait(self, timeout=None):
        return self


class Device:
    def __init__(self, name, host, device_type, labels, delay=0.0, dead=False):
        self.name, self.host, self.device_type, self.labels = name, host, device_type, set(labels)
        self.description = "fake " + device_type.value + " device"
        self.attributes = _Attributes({"serial": "FAKE" + name.upper()[:6], "platform": "C9500-24Y4C"})
        self.forwarded_tcp_ports = ""
        self.delay, self.dead = delay, dead

    def exec(self, commands, timeout=0):
        if self.dead:
            raise ConnectionError("connection refused by %s" % self.host)
        if isinstance(commands, str):
            commands = [commands]
        result = {}
        for c in commands:
            if timeout and self.delay > timeout:
                time.sleep(timeout)
                result[c] = _Result(ExecResultStatus.FAILURE, "", "Timeout while waiting for the prompt")
                continue
            time.sleep(self.delay)
            out = OUTPUTS.get(c)
            if out is None:
                out = "        ^\n% Invalid input detected at '^' marker.\n"
            result[c] = _Result(ExecResultStatus.SUCCESS, out.format(name=self.name))
        return _Request(result)


class Service:
    def __init__(self, serial):
        self.serial = serial
        slow = float(os.environ.get("FAKE_RADKIT_SLOW_SECONDS", "1.5"))
        self.inventory = {d.name: d for d in [
            Device("lon-b1-core-01", "10.10.0.1", DeviceType.IOS_XE, ["site:lon-b1", "core"]),
            Device("lon-b1-acc-01", "10.10.0.11", DeviceType.IOS_XE, ["site:lon-b1", "access"]),
            Device("nyc-hq-dc-01", "10.20.0.10", DeviceType.NXOS, ["site:nyc-hq", "datacenter"]),
            Device("slow-sw-01", "10.99.0.1", DeviceType.IOS_XE, ["site:lab"], delay=slow),
            Device("stuck-sw-01", "10.99.0.3", DeviceType.IOS_XE, ["site:lab"], delay=600),
            Device("dead-rtr-01", "10.99.0.2", DeviceType.IOS_XR, ["site:lab"], dead=True),
        ]}


class _Pending:
    def __init__(self, value):
        self.value = value

    def wait(self, timeout=None):
        return self.value


class Client:
    """radkit_client.sync.Client: Client.create() is a context manager yielding a client."""

    def __init__(self):
        self.identity = None

    @classmethod
    def create(cls):
        return _Context(cls())

    def certificate_login(self, identity, ca_path=None, cert_path=None, key_path=None, private_key_password=None, domain=None):
        if not identity or "@" not in identity:
            raise ValueError("identity must be an email address")
        self.identity = identity

    def service(self, serial):
        if self.identity is None:
            raise RuntimeError("not logged in")
        return _Pending(Service(serial))


class _Context:
    def __init__(self, client):
        self.client = client

    def __enter__(self):
        return self.client

    def __exit__(self, *exc):
        return False
