"""sigma probe: runs on a few nodes (inside China, plus controls outside). Each round it
fetches the targets from the server, checks them (ICMP, TCP, HTTP(S)) with bounded asyncio
concurrency, and posts the results in batches; what cannot be posted waits in a bounded
on-disk spool and is delivered later, exactly once (idempotency keys).

Uses httpx and icmplib only; never the database layer."""
