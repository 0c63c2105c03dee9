"""Gateways to Azure: the only package that imports ``azure.mgmt.*`` / ``azure.storage.*``.

Each module owns one area and returns the domain's frozen dataclasses; SDK models never leave it.
"""
