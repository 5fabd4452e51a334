"""The reference servers the generated app is measured against (bench/run.py starts them)."""
