"""ipywidgets views over plain state objects, one module per view.

State objects are dataclasses with no widget code, so their logic is tested
without a browser; each view also prints a one-line text summary for nbval and
readers without JavaScript. Live charts render matplotlib to PNG bytes into a
``widgets.Image`` from an asyncio task (see ../shared/RECIPES.md).
"""
