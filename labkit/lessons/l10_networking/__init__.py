"""Lesson 10 · networking: the network map, fetching through the CDN, and the checks.

A notebook imports what it uses from here: ``from labkit.lessons.l10_networking import checks, ...``.
"""

from labkit.lessons.l10_networking import checks
from labkit.lessons.l10_networking.network_map import NetworkMap, Page, fetch_via_cdn

__all__ = ["NetworkMap", "Page", "checks", "fetch_via_cdn"]
