"""What a user might pick instead: FastAPI under uvicorn, the page read with redis.asyncio."""

import os

import redis.asyncio as redis
from fastapi import FastAPI, Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
REDIS_KEY = os.environ.get("BENCH_REDIS_KEY", "bench:body")


@app.get("/api/items")
async def list_items() -> Response:
    """The page from Redis, one GET."""
    return Response(await client.get(REDIS_KEY), media_type="application/json")
