"""nginx proxy_cache in front of the same origin: the comparison the product is built against."""

from __future__ import annotations

import shutil
from pathlib import Path


def nginx_command(
    root: Path, port: int, upstream: str, access_log: bool = False
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
    # one worker process, no master: a like-for-like match for one edge process
    conf.write_text(f"""
daemon off; master_process off; worker_processes 1;
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
