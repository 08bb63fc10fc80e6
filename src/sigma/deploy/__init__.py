"""Deployments run from the operator's machine over SSH (paramiko).

`node_exporter.py` installs Prometheus node_exporter on fleet hosts; `ssh.py` is the
connection with the host-key policy; `service.py` is the service-manager step (systemd),
kept apart because hosts without a running systemd must be reported, not papered over.
"""
