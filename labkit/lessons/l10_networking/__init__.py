"""Lesson 10 · networking: the network map, fetching through the CDN, the checks and the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l10_networking import checks, ...``.
"""

from labkit.lessons.l10_networking import checks
from labkit.lessons.l10_networking.network_map import NetworkMap, Page, fetch_via_cdn
from labkit.lessons.l10_networking.questions import QUESTIONS as questions

__all__ = ["NetworkMap", "Page", "checks", "fetch_via_cdn", "questions"]
