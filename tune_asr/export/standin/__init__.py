"""Local stand-ins for the NSML platform, put on PYTHONPATH by the replay check only.

This folder is never copied into an exported package: NSML provides the real ``nsml`` module.
"""
