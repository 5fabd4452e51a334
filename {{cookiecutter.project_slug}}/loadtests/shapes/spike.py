"""Spike load: a steady base, a sudden burst of users, then the base again to watch recovery."""

from __future__ import annotations

from locust import LoadTestShape

from loadtests.settings import env_int


class SpikeLoadShape(LoadTestShape):
    """Base users, then the peak, then the base again; sizes and lengths from SPIKE_*."""

    def __init__(self) -> None:
        super().__init__()
        base_users = env_int("SPIKE_BASE_USERS", 5)
        peak_users = env_int("SPIKE_PEAK_USERS", 50)
        base_seconds = env_int("SPIKE_BASE_SECONDS", 30)
        peak_seconds = env_int("SPIKE_PEAK_SECONDS", 20)
        # (ends at second, users, spawn rate): the burst arrives within a second or two,
        # the recovery phase is as long as the warm-up so the two can be compared.
        self.stages = (
            (base_seconds, base_users, float(base_users)),
            (base_seconds + peak_seconds, peak_users, float(peak_users)),
            (2 * base_seconds + peak_seconds, base_users, float(peak_users)),
        )

    def tick(self) -> tuple[int, float] | None:
        """The stage for the current second; None once the recovery phase is over."""
        run_time = self.get_run_time()
        for ends_at, users, spawn_rate in self.stages:
            if run_time < ends_at:
                return users, spawn_rate
        return None
