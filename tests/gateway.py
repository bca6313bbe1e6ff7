"""A Supabase-like API gateway in front of PostgREST: Debian's nginx serving /rest/v1/.

supabase-py calls <SUPABASE_URL>/rest/v1/... with the project key in the `apikey` header, as a
hosted project's gateway expects; the gateway refuses a request without that key (401), strips
the prefix and passes the Authorization header through to PostgREST. Loopback only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.postgrest_server import free_port

NGINX = "/usr/sbin/nginx"
START_TIMEOUT = 20.0


def find_nginx() -> str | None:
    return NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")


_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {dir}/access.log;
  # Everything in memory: the workers may run as another user than the one owning {dir}.
  client_body_buffer_size 4m;
  client_max_body_size 4m;
  proxy_buffering off;
  proxy_request_buffering off;
  client_body_temp_path {dir}/client_body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /rest/v1/ {{
      if ($http_apikey != "{apikey}") {{
        add_header Content-Type application/json always;
        return 401 '{{"message":"Invalid API key"}}';
      }}
      proxy_pass http://127.0.0.1:{upstream}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
    location / {{ return 404; }}
  }}
}}
"""


@dataclass
class Gateway:
    process: subprocess.Popen
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return (
            (self.workdir / "error.log").read_text(errors="replace")[-3000:]
            if (self.workdir / "error.log").exists()
            else ""
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_gateway(upstream_port: int, apikey: str) -> Gateway:
    binary = find_nginx()
    if binary is None:
        raise FileNotFoundError("nginx not installed (Debian package nginx)")
    workdir = Path(tempfile.mkdtemp(prefix="gateway-"))
    workdir.chmod(0o755)
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_CONF.format(dir=workdir, port=port, upstream=upstream_port, apikey=apikey))
    process = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    gateway = Gateway(process, port, workdir)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{gateway.log_tail()}")
        try:
            if httpx.get(gateway.url + "/rest/v1/", headers={"apikey": apikey}, timeout=2).status_code == 200:
                return gateway
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    gateway.stop()
    raise TimeoutError(f"the gateway did not answer within {START_TIMEOUT:.0f}s:\n{gateway.log_tail()}")
