#!/usr/bin/python3
"""Runs the shared benchmark harness (../shared/bench/hubbench.py) against
Huren. Two adaptations, nothing else changes in how figures are taken:

* credentials: Huren requires them on every DICOMweb route. The load client
  (Go) sends HTTP Basic from the URL's user info (a device token as the
  password); the harness's own Python requests get the same header here.
* loading: the qido/render rows load data with storescu (C-STORE), which
  Huren does not speak yet; with HUREN_BENCH_LOAD=stow they load through
  STOW-RS with the same Go client instead (loading is never measured).
"""
import base64
import os
import shlex
import sys
import time
import urllib.parse
import urllib.request

SHARED = os.environ.get("SHARED_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
sys.path.insert(0, SHARED)
import hubbench  # noqa: E402

_orig_request = urllib.request.Request


def _request(url, *args, **kw):
    u = urllib.parse.urlsplit(url)
    if u.username is not None:
        headers = dict(kw.pop("headers", None) or {})
        cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        netloc = u.hostname + (f":{u.port}" if u.port else "")
        url = urllib.parse.urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment))
        kw["headers"] = headers
    return _orig_request(url, *args, **kw)


urllib.request.Request = _request

if os.environ.get("HUREN_BENCH_LOAD") == "stow":
    def load_once(args, dirs):
        hubbench.reset(args)
        for d in dirs:
            t0 = time.perf_counter()
            hubbench.sh(f"{hubbench.STOWCLIENT} stow -url {shlex.quote(args.dicomweb + '/studies')} "
                        f"-dir {shlex.quote(d)} -batch 20 -c 2 >/dev/null")
            print(f"  loaded {d} in {time.perf_counter() - t0:.1f}s (STOW-RS)", file=sys.stderr)
    hubbench.load_once = load_once

if __name__ == "__main__":
    hubbench.main()
