"""An embedded ClickHouse served over its HTTP interface, in a process of its own (as the worker
of `picket run` serves it): `python -m tests.support.store_server <data dir> <port> <password>`.

It creates table `picket.samples` with one row of each type the API reads, then serves and
prints "ready".
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from picket.store.client import Store
from picket.store.http_interface import Handles, create_app, engine_path

SAMPLE_TABLE = """CREATE TABLE IF NOT EXISTS picket.samples (
    id UInt64, name String, at DateTime64(3, 'UTC'), uid UUID, tags Array(String),
    attrs Map(String, String), amount Nullable(Float64)
) ENGINE = MergeTree ORDER BY id"""


def main(data_dir: str, port: int, password: str) -> None:
    url = f"chdb:///{data_dir}"
    owner = Store(url, "picket")
    owner.command("CREATE DATABASE IF NOT EXISTS picket")
    owner.command(SAMPLE_TABLE)
    owner.command("""INSERT INTO picket.samples VALUES
        (1, 'it''s \\\\ here', '2026-11-27 10:00:00.250', '6f1c2a8e-2f7e-4d7a-9a51-0c4b1d2e3f40', ['a', 'b'],
         {'k': 'v'}, 1.5),
        (2, 'plain', '2026-11-27 11:00:00', '00000000-0000-0000-0000-000000000002', [], {}, NULL)""")
    config = uvicorn.Config(create_app(Handles(engine_path(url)), password), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        print("ready", flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
