"""Starts fruix-xapi-sim as a child process on loopback with ephemeral ports, for the real-client
checks. The simulator prints one JSON line when ready; this module reads it and exposes the ports.
Everything it starts is stopped and removed on exit."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading


class SimProcess:
    def __init__(self, sim_binary, fixture, timeout=20):
        self.state_dir = tempfile.mkdtemp(prefix="fruix-sim-")
        self.proc = subprocess.Popen(
            [sim_binary, "--fixture", fixture, "--state-dir", self.state_dir,
             "--http-port", "0", "--https-port", "0", "--admin-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._stderr = []
        threading.Thread(target=self._drain, daemon=True).start()
        timer = threading.Timer(timeout, self.proc.kill)
        timer.start()
        line = self.proc.stdout.readline()
        timer.cancel()
        if not line:
            self.stop()
            raise RuntimeError("fruix-xapi-sim did not become ready:\n" + "".join(self._stderr))
        self.ready = json.loads(line)
        self.http_port = self.ready["http_port"]
        self.https_port = self.ready["https_port"]
        self.admin_port = self.ready["admin_port"]
        self.fingerprint = self.ready.get("tls_fingerprint_sha256", "")

    def _drain(self):
        for line in self.proc.stderr:
            self._stderr.append(line)

    def url(self, host="127.0.0.1", tls=False):
        return "%s://%s:%d/" % ("https" if tls else "http", host,
                                self.https_port if tls else self.http_port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
