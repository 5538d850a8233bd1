"""A TLS endpoint for benchmarks: one asyncio server on 0.0.0.0:PORT inside the benchmark's own network namespace
(so every 127.0.0.0/8 address reaches it), SO_REUSEPORT so several processes share the load, and an optional
delay before the handshake standing for a network round trip. Prints READY when listening."""

from __future__ import annotations

import argparse
import asyncio
import ssl


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("chain")
    parser.add_argument("key")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.chain, args.key)
    delay = args.delay_ms / 1000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            await writer.start_tls(context)
            await reader.read(1024)
        except (OSError, ssl.SSLError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "0.0.0.0", args.port, reuse_port=True, backlog=4096)
    print("READY", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
