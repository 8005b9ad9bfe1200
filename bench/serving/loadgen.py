"""A small HTTP/1.1 load generator on raw asyncio sockets (keep-alive, fixed concurrency).

    python loadgen.py HOST PORT REQUEST_FILE CONCURRENCY SECONDS

``REQUEST_FILE`` holds the complete request bytes (request line, headers,
body). Prints one JSON line: requests/s, p50/p95/p99 latency in ms, errors.
Far cheaper per request than an httpx client (which tops out at ~600 req/s
here), so the server, not the client, is what gets measured.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


async def _worker(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            started = time.perf_counter()
            if started >= deadline:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _run(host: str, port: int, request: bytes, concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    # warm-up: one request per connection is not counted
    await asyncio.gather(
        *(
            _worker(host, port, request, time.perf_counter() + 0.5, [], [])
            for _ in range(concurrency)
        )
    )
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(host, port, request, deadline, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "errors": len(errors),
    }


def main() -> None:
    host, port, request_file, concurrency, seconds = sys.argv[1:6]
    request = Path(request_file).read_bytes()
    result = asyncio.run(_run(host, int(port), request, int(concurrency), float(seconds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
