"""An S3-compatible server for tests: moto's server mode, on a free local port."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from moto.server import ThreadedMotoServer


def one_request_at_a_time(app):  # type: ignore[no-untyped-def]
    """Serve a WSGI app's requests one after the other. Moto's threaded server closes the buffer
    of an object overwritten or deleted while another request still reads it (a 500, "I/O
    operation on closed file"); S3 serves each request against one consistent version. Clients
    stay concurrent: only the server's handling of each request is serialized."""
    lock = threading.Lock()

    def serve(environ, start_response):  # type: ignore[no-untyped-def]
        with lock:
            return app(environ, start_response)

    return serve


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """The endpoint URL of a running server, stopped on exit."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    server._server.app = one_request_at_a_time(server._server.app)  # read per request by werkzeug
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
