"""The edge's client-facing HTTP/1.1 server: an asyncio Protocol on httptools (DESIGN step 0).

It knows nothing of caching: it parses requests into plain `Request` values, hands them to a
handler, and writes the `Answer` values it gets back (bytes, a file range by `sendfile`, or a
stream). aiohttp stays the upstream client.
"""
