"""Locust user classes, one per traffic pattern; loadtests/locustfile.py picks them up."""
