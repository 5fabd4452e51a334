"""Soak load: a moderate, constant load for a long but bounded time, to expose leaks and drift."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.settings import env_int


class SoakLoadShape(LoadTestShape):
    """SOAK_USERS users for SOAK_SECONDS (default 30 minutes), ramped up at SOAK_SPAWN_RATE."""

    def __init__(self) -> None:
        super().__init__()
        self.users = env_int("SOAK_USERS", 10)
        self.seconds = env_int("SOAK_SECONDS", 30 * 60)
        self.spawn_rate = float(env_int("SOAK_SPAWN_RATE", 2))

    def tick(self) -> tuple[int, float] | None:
        """The same load until the time is up; the bound keeps a forgotten run from going on."""
        if self.get_run_time() >= self.seconds:
            return None
        return self.users, self.spawn_rate
