"""The load-test kit: Locust scenarios, load shapes (step, spike, soak) and the SLO gate."""
