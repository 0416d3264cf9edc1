"""Lessons 04 and 07 in JupyterLab in headless Chromium: run the cells, move a slider, see the chart change.

Lesson 07 is run with Run All; lesson 04 with Run All Above + the widget's cell, then the rest
after the slider (after a whole Run All its clean-up cell has deleted the widget's queue).
Each test fails if its widget does not render (no sliders, no chart image) or does not answer a
slider (the kernel must redraw: a new image and a new summary line). Screenshots go to
tests/browser/screenshots/ (git-ignored); LABKIT_UPDATE_DOCS_SCREENSHOTS=1 also refreshes the
README's docs/screenshots/04-fifo-lanes.png and 07-simulator.png.

Run: .venv/bin/pytest tests/browser -q -m browser
"""

from __future__ import annotations

import pytest

MS = 1000


def _expect():
    from playwright.sync_api import expect

    return expect


def _shown_png(image, timeout_s: float) -> tuple[str, bytes]:
    """Wait until the ``<img>`` has loaded a picture; return its src and what it looks like."""
    image.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 100",
        arg=image.element_handle(timeout=timeout_s * MS),
        timeout=timeout_s * MS,
    )
    return image.get_attribute("src"), image.screenshot()


def _widget(lesson, cell_source: str, sliders: int, timeout_s: float):
    """The output area of the cell containing ``cell_source``, once its widget has rendered its sliders."""
    expect = _expect()
    output = lesson.output_of(cell_source)
    try:
        expect(output.locator(".widget-slider")).to_have_count(sliders, timeout=timeout_s * MS)
    except AssertionError as err:
        raise AssertionError(f"the widget's {sliders} sliders did not appear: {err}\n{lesson.diagnose()}") from None
    return output


def _root(output):
    """The widget's outermost box in an output area (what the README's screenshots show)."""
    return output.locator(".widget-vbox, .widget-hbox").first


@pytest.mark.browser
def test_fifo_lanes_widget_reruns_when_a_slider_moves(lesson):
    """Lesson 04, FifoLanesView: 'groups' 3 → 4 re-runs the FIFO experiment on the backend and redraws the lanes."""
    expect = _expect()
    nb = lesson("04-sqs-standard-vs-fifo.ipynb")
    # Run All Above + the widget's cell, as a learner reaching it does: after a plain Run All the
    # clean-up cell has deleted the queue the widget's experiment uses before the slider moves.
    nb.run_through("FifoLanesView(")
    view = _widget(nb, "FifoLanesView(", sliders=2, timeout_s=180)
    image = view.locator("img.widget-image")
    summary = view.locator("div.widget-label")
    groups_readout = view.locator(".widget-slider").nth(0).locator(".widget-readout")
    expect(image).to_have_count(1)
    expect(summary).to_contain_text("12 messages in 3 group(s) by 2 consumer(s)", timeout=60 * MS)
    expect(summary).to_contain_text("every group in send order")
    expect(groups_readout).to_have_text("3")
    src_before, png_before = _shown_png(image, timeout_s=30)

    view.locator(".widget-slider").nth(0).locator(".noUi-handle").press("ArrowRight")

    expect(groups_readout).to_have_text("4")
    expect(summary).to_contain_text("16 messages in 4 group(s) by 2 consumer(s)", timeout=60 * MS)
    expect(summary).to_contain_text("every group in send order")
    expect(image).not_to_have_attribute("src", src_before, timeout=30 * MS)
    _, png_after = _shown_png(image, timeout_s=30)
    assert png_after != png_before, "the lanes chart looks the same after the slider moved"
    nb.screenshot(_root(view), "04-sqs-standard-vs-fifo", docs_name="04-fifo-lanes.png")

    # The rest of the lesson (its message count includes the widget's runs, then the clean-up).
    nb.run_rest()
    nb.wait_until_done(timeout_s=120)
    assert nb.errors() == []


@pytest.mark.browser
def test_scaling_simulator_redraws_when_a_slider_moves(lesson):
    """Lesson 07, SimulatorView: 'peak msg/s' 200 → 210 re-simulates the day; the live gauge moves meanwhile."""
    from labkit.lessons.l07_scaling_with_cloudwatch.simulator import SimulatorState

    expect = _expect()
    summary_before = SimulatorState().run().summary()
    summary_after = SimulatorState(peak_rate=210).run().summary()
    assert summary_before != summary_after

    nb = lesson("07-scaling-with-cloudwatch.ipynb")
    nb.run_all()
    # The simulator appears within seconds; the live demo (the gauge, the bursts, the mid-job terminate) and the
    # Lambda part run on after it.
    view = _widget(nb, "SimulatorView()", sliders=8, timeout_s=90)
    image = view.locator("img.widget-image")
    summary = view.locator(".widget-html-content")
    peak = view.locator(".widget-slider", has_text="peak msg/s")
    expect(image).to_have_count(1)
    expect(summary).to_contain_text(summary_before)
    expect(peak.locator(".widget-readout")).to_have_text("200")
    src_before, png_before = _shown_png(image, timeout_s=30)

    peak.locator(".noUi-handle").press("ArrowRight")
    expect(peak.locator(".widget-readout")).to_have_text("210")

    # The live pressure gauge redraws while the burst cell waits for the fleet to settle.
    gauge = nb.output_of("gauge = PressureGauge(").locator("img.widget-image")
    gauge_src, _ = _shown_png(gauge, timeout_s=90)
    expect(gauge).not_to_have_attribute("src", gauge_src, timeout=60 * MS)

    # The kernel takes the slider's message at its next await (cell 22 awaits the live run).
    expect(summary).to_contain_text(summary_after, timeout=150 * MS)
    expect(image).not_to_have_attribute("src", src_before, timeout=30 * MS)
    _, png_after = _shown_png(image, timeout_s=30)
    assert png_after != png_before, "the simulated day looks the same after the slider moved"
    nb.screenshot(_root(view), "07-scaling-with-cloudwatch", docs_name="07-simulator.png")
    assert nb.errors() == []
