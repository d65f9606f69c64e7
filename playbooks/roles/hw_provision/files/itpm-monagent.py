#!/usr/bin/python3
"""itpm-monagent: serves this host's load, available memory, free disk and identity as Prometheus metrics.

GET /metrics answers in the Prometheus text format, e.g.::

    node_load1 0.12
    node_memory_MemAvailable_bytes 24662048768
    node_filesystem_avail_bytes{mountpoint="/srv"} 82355941376
    itpm_host_info{host="h1"} 1

usage: itpm-monagent CONFIG (a JSON file: host, listen, port, disk_path, log_file). Every request is logged to
log_file, which is opened for appending so that logrotate's copytruncate needs no signal to the agent.
"""

import json
import logging
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("itpm-monagent")
CONFIG: dict = {}


def mem_available_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # /proc/meminfo counts kB
    return 0


def render_metrics() -> str:
    path, host = CONFIG["disk_path"], CONFIG["host"]
    disk = os.statvfs(path)
    metrics = [
        ("node_load1", "gauge", "1m load average.", "", os.getloadavg()[0]),
        ("node_memory_MemAvailable_bytes", "gauge", "Memory available to start new work.", "", mem_available_bytes()),
        (
            "node_filesystem_avail_bytes",
            "gauge",
            "Filesystem space available to non-root users in bytes.",
            f'{{mountpoint="{path}"}}',
            disk.f_bavail * disk.f_frsize,
        ),
        ("itpm_host_info", "gauge", "The inventory name of this host.", f'{{host="{host}"}}', 1),
    ]
    lines = []
    for name, kind, text, labels, value in metrics:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{labels} {value}"]
    return "\n".join(lines) + "\n"


class Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        body = render_metrics().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        LOG.info("%s %s", self.address_string(), format % args)


def main() -> None:
    with open(sys.argv[1] if len(sys.argv) > 1 else "/etc/itpm-monagent/agent.json") as config:
        CONFIG.update(json.load(config))
    logging.basicConfig(filename=CONFIG["log_file"], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = ThreadingHTTPServer((CONFIG["listen"], int(CONFIG["port"])), Metrics)
    LOG.info("serving metrics of %s on %s:%s", CONFIG["host"], CONFIG["listen"], CONFIG["port"])
    server.serve_forever()


if __name__ == "__main__":
    main()
