"""Views shared by more than one lesson (a lesson's own widgets live in its package).

``timeline``: the invocation timeline of lessons 07 and 08. State objects are dataclasses with no
widget code, so their logic is tested without a browser; each view also prints a one-line text
summary for nbval and readers without JavaScript. Live charts render matplotlib to PNG bytes into a
``widgets.Image`` from an asyncio task (a blocking loop would show only the first and last frames).
"""
