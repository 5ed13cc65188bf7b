"""nginx proxy_cache in front of the same origin: the comparison the product is built against."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from pathlib import Path


def nginx_command(
    root: Path, port: int, upstream: str, access_log: bool = False, workers: int = 1
) -> list[str] | None:
    """nginx with its access log off, or on as a production nginx runs it (buffered)."""
    if shutil.which("nginx") is None:
        return None
    root = root / f"nginx-{port}"
    (root / "nginx-cache").mkdir(parents=True)
    conf = root / "nginx.conf"
    log = (
        f"access_log {root}/access.log combined buffer=64k flush=1s;"
        if access_log
        else "access_log off;"
    )
    # one worker: no master either, a like-for-like match for one edge process; more: a master
    # and its workers, matching the edge's supervisor. The workers keep our user (a master run
    # as root would make them nobody, locked out of the cache under our 0700 temporary folder).
    processes = (
        "master_process off; worker_processes 1;"
        if workers == 1
        else f"master_process on; worker_processes {workers}; user {_our_user()};"
    )
    conf.write_text(f"""
daemon off; {processes}
error_log {root}/nginx-error.log; pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  {log} sendfile on; tcp_nopush on; keepalive_requests 1000000;
  proxy_cache_path {root}/nginx-cache levels=1:2 keys_zone=hls:10m max_size=1g;
  client_body_temp_path {root}; proxy_temp_path {root}/nginx-tmp; fastcgi_temp_path {root};
  uwsgi_temp_path {root}; scgi_temp_path {root};
  server {{
    listen 127.0.0.1:{port};
    location /healthz {{ return 200 "ok"; }}
    location / {{
      proxy_pass {upstream}; proxy_cache hls; proxy_cache_lock on; proxy_http_version 1.1;
      proxy_set_header Connection ""; proxy_cache_valid 200 1h;
    }}
  }}
}}
""")
    return ["nginx", "-c", str(conf), "-p", str(root)]


def _our_user() -> str:
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"
