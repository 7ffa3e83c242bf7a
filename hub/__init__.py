"""Tidemill's hub: ready-to-use scripts (`tidemill hub list|show|add`).

Each script is a single file with a typed `main` and a `<name>.script.yaml`
beside it (summary, description, settings), in the sync layout, so `hub add`
deploys it as is. Python scripts use only the standard library unless a PEP 723
block names their dependencies.
"""
