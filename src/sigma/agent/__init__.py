"""sigma agent: runs on every VPS. Registers with the server, heartbeats with system_info,
keeps a port inventory from the kernel's socket table, and serves /metrics.

Uses httpx, psutil and prometheus_client only; never the database layer (a test checks
sys.modules). See runner.py for the lifecycle and docs/COMPATIBILITY.md for the original agent.
"""
