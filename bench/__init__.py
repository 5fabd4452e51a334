"""Side-by-side benchmark of a baked project (`make bench`); see run.py."""
