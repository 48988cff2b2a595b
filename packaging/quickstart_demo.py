"""The quick start's walk-through: a real XenAPI client against fruix-xapi-sim.
Usage: quickstart_demo.py SIM_BINARY FIXTURE"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "clients"))
from sim_process import SimProcess  # noqa: E402
from os_xenapi.client import XenAPI  # noqa: E402


def console_lines(port, session, console_uuid, until, timeout=15.0):
    """Reads a vt100 console over xapi's CONNECT protocol until a line contains `until`."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(("CONNECT /console?uuid=%s&session_id=%s HTTP/1.0\r\n\r\n"
                  % (console_uuid, session)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(1)
    assert buf.startswith(b"HTTP/1.1 200"), buf
    pending = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            text = line.decode(errors="replace").rstrip("\r")
            yield text
            if until in text:
                sock.close()
                return
    sock.close()


def main(sim_binary, fixture):
    with SimProcess(sim_binary, fixture) as sim:
        print("=== fruix-xapi-sim is up: %s (TLS fingerprint %s)" % (sim.url(), sim.fingerprint))
        s = XenAPI.Session(sim.url())
        s.xenapi.login_with_password("root", "password", "2.15", "fruix-quickstart")
        try:
            print("=== pool")
            for ref, h in s.xenapi.host.get_all_records().items():
                print("  host %-12s %s" % (h["name_label"], h["address"]))
            for ref, vm in sorted(s.xenapi.VM.get_all_records().items(),
                                  key=lambda kv: kv[1]["name_label"]):
                if not vm["is_a_template"] and not vm["is_control_domain"]:
                    print("  vm   %-14s %-8s %s" % (vm["name_label"], vm["power_state"],
                                                  vm["domain_type"]))
            vm = s.xenapi.VM.get_by_name_label("fruix-freebsd")[0]
            print("=== Async.VM.start fruix-freebsd, followed through event.from")
            token = s.xenapi.event_from(["task"], "", 0.0)["token"]
            task = s.xenapi.Async.VM.start(vm, False, False)
            while s.xenapi.task.get_status(task) == "pending":
                token = s.xenapi.event_from(["task/" + task], token, 5.0)["token"]
            print("  task %s, VM %s, domid %s" % (s.xenapi.task.get_status(task),
                                                  s.xenapi.VM.get_power_state(vm),
                                                  s.xenapi.VM.get_domid(vm)))
            s.xenapi.task.destroy(task)
            text = [c for c in s.xenapi.VM.get_consoles(vm)
                    if s.xenapi.console.get_protocol(c) == "vt100"][0]
            print("=== boot console (vt100 over CONNECT)")
            for line in console_lines(sim.http_port, s._session,
                                      s.xenapi.console.get_uuid(text), "bound to"):
                print("  | " + line)
            print("=== done: the console showed the DHCP lease; fruixd's deployment engine "
                  "automates this whole sequence")
            s.xenapi.VM.hard_shutdown(vm)
        finally:
            s.xenapi.session.logout()


if __name__ == "__main__":
    main(*sys.argv[1:3])
