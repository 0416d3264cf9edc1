"""Lesson 10 · networking: the network map, the CDN fetch, where DNS queries go, the checks, the questions.

A notebook imports what it uses from here: ``from labkit.lessons.l10_networking import checks, ...``.
"""

from labkit.lessons.l10_networking import checks
from labkit.lessons.l10_networking.dns_lookup import authoritative_resolver, dig_line
from labkit.lessons.l10_networking.network_map import NetworkMap, Page, fetch_via_cdn
from labkit.lessons.l10_networking.questions import QUESTIONS as questions

__all__ = ["NetworkMap", "Page", "authoritative_resolver", "checks", "dig_line", "fetch_via_cdn", "questions"]
