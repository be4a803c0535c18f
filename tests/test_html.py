"""The HTML report on any screen: no sideways scrolling at 400 px, plots whose series stay visible and
whose axes are labelled, and the student's own notebook figures."""

import base64
import html
import re
import shutil
import struct
import subprocess
import zlib

import nbformat
import pytest

from grader.render import MAX_FIGURES, notebook_figures, render_html
from grader.results import CategoryScore, CheckResult, ItemScore, Plot, Report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
LONG_ID = "test_a_very_long_module_name_without_any_spaces.py::test_" + "x" * 120
SAME = [3.2, 2.9, 2.5, 2.2, 2.0, 1.9, 1.7, 1.6]


def _png(width: int = 2, height: int = 2, padding: int = 0) -> bytes:
    """A valid PNG of `width` x `height` grey pixels; `padding` bytes of ancillary chunk make it larger."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    extra = chunk(b"tEXt", b"pad\x00" + b"p" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _notebook(*images: bytes):
    """A notebook: a markdown cell, then one code cell per image with it as a saved image/png output."""
    cells = [nbformat.v4.new_markdown_cell("# Training")]
    for image in images:
        cell = nbformat.v4.new_code_cell("plt.plot(losses)")
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "image/png": base64.encodebytes(image).decode("ascii"), "text/plain": "<Figure>"})]
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def _report(**changes) -> Report:
    failed = CheckResult(LONG_ID, "On the reference's weights, outputs equal the reference's", "fail",
                         "differs by up to 0.0072 at " + "Q" * 300, "MultiHeadAttentionWithAnExtremelyLongName",
                         "3.6.2", "Correctness", 0.0, 10.0)
    fields = dict(
        student="student-with-a-very-long-github-handle-" + "z" * 60, assignment="a5", option="instruction",
        score=42.0, max_score=100.0,
        categories=(CategoryScore("Correctness", 40.0, 40.0, items=(ItemScore("mha", "x" * 200, 40, 40, "y" * 200),)),),
        checks=(failed,) * 3,
        plots=(Plot("Instruction smoke test: loss at each step", "lines", {"yours": SAME, "reference": list(SAME)}),
               Plot("attention", "matrix",
                    matrix=tuple(tuple(0.05 * ((i + j) % 20) for j in range(24)) for i in range(24)),
                    labels=tuple(f"token{i}" for i in range(24)))),
        figures=notebook_figures(_notebook(_png(900, 500))),
    )
    return Report(**{**fields, **changes})


def _measure(page: str, width: int, tmp_path) -> tuple[int, int, int]:
    """(scroll width, client width, window width) of `page` shown `width` px wide in headless Chromium:
    the client width is the viewport less a vertical scroll bar.

    Headless Chromium will not make a window under 500 px, so the page is shown in an iframe of that
    width; a script in the wrapper (never in the report) writes the measurements into the title."""
    wrapper = tmp_path / f"measure-{width}.html"
    wrapper.write_text(
        f'<!DOCTYPE html><html><head><title>pending</title></head><body style="margin:0">'
        f'<iframe id="r" style="border:0;width:{width}px;height:800px" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        '<script>window.onload = function () { var d = document.getElementById("r").contentWindow;'
        ' document.title = "measured " + d.document.documentElement.scrollWidth'
        ' + " " + d.document.documentElement.clientWidth + " " + d.innerWidth; };</script>'
        '</body></html>', encoding="utf-8")
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             f"--window-size={width + 100},900", "--dump-dom", wrapper.as_uri()],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r"<title>measured (\d+) (\d+) (\d+)</title>", result.stdout)
    assert found, f"no measurement from chromium: {result.stdout[:300]!r} {result.stderr[-500:]!r}"
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (chromium not on PATH)")
@pytest.mark.parametrize("width", [1280, 400])
def test_the_page_never_scrolls_sideways(width, tmp_path):
    scroll_width, client_width, window_width = _measure(render_html(_report()), width, tmp_path)
    assert window_width == width
    assert scroll_width == client_width  # nothing wider than the viewport


def test_the_report_itself_has_no_script():
    assert "<script" not in render_html(_report()).lower()


def test_tables_scroll_in_their_own_box_and_plots_scale():
    page = render_html(_report())
    assert page.count("<table") == page.count('<div class="scroll"><table')
    assert ".scroll { overflow-x: auto" in page and "overflow-wrap: anywhere" in page
    svgs = re.findall(r"<svg [^>]*>", page)
    assert len(svgs) == 2
    for svg in svgs:
        assert re.search(r'viewBox="0 0 \d+ \d+"', svg) and "max-width:" in svg and " width=" not in svg
    assert "figure svg { display: block; width: 100%; height: auto; }" in page


def test_identical_series_are_both_visible_with_a_legend():
    page = render_html(_report(figures=()))
    chart = page[page.index("<svg"):page.index("</svg>")]
    series = re.findall(r'<g class="series" stroke="([^"]+)" stroke-width="([^"]+)"( stroke-dasharray="[^"]+")?>',
                        chart)
    assert len(series) == 2
    (color_a, width_a, dash_a), (color_b, width_b, dash_b) = series
    # the lower one shows round the upper
    assert dash_a != dash_b and color_a != color_b and float(width_a) > float(width_b)
    markers = re.findall(r'<path d="M[^"]+" fill="([^"]+)" fill-opacity="0.55" stroke-width="1.25"',
                         chart.split('<g class="legend"')[0])
    assert len(markers) == 2 and markers[0] != markers[1]
    legend = chart.split('<g class="legend"')[1]
    assert ">yours</text>" in legend and ">reference</text>" in legend and legend.count("stroke-dasharray") == 1


def test_axes_are_labelled_from_the_plot_or_its_title():
    page = render_html(_report(figures=()))
    assert re.search(r'class="axis-label x-label"[^>]*>step</text>', page)
    assert re.search(r'class="axis-label y-label"[^>]*>loss</text>', page)
    own = render_html(_report(figures=(), plots=(Plot("accuracy", "lines", {"yours": [0.1, 0.5]},
                                                      x_label="epoch", y_label="accuracy"),)))
    assert re.search(r'x-label"[^>]*>epoch</text>', own) and re.search(r'y-label"[^>]*>accuracy</text>', own)
    evaluation = render_html(_report(figures=(), plots=(
        Plot("train_classifier_simple smoke test: training loss at each evaluation", "lines", {"yours": [1.0, 0.5]}),)))
    assert re.search(r'x-label"[^>]*>evaluation</text>', evaluation)


def test_a_plot_with_nan_or_one_point_still_renders():
    page = render_html(_report(figures=(), plots=(
        Plot("loss at each step", "lines", {"yours": [float("nan"), 2.0, float("inf"), 1.0], "one": [5.0]}),)))
    assert "nan" not in page.lower().split("<svg")[1] and page.count("<polyline") == 3


def test_the_notebooks_own_figures_appear_with_their_cell_number():
    image = _png(4, 3)
    page = render_html(_report(figures=notebook_figures(_notebook(image))))
    assert "Your notebook&#39;s figures" in page or "Your notebook's figures" in page
    assert f'<img src="data:image/png;base64,{base64.b64encode(image).decode()}"' in page
    assert "<figcaption>cell 2</figcaption>" in page  # the markdown cell is cell 1
    assert ".gallery img { display: block; max-width: 100%" in page


def test_figures_are_capped_in_number_and_size():
    big = _png(padding=1_600_000)
    figures = notebook_figures(_notebook(big, *[_png(2, 2)] * (MAX_FIGURES + 3)))
    shown = [f for f in figures if f.data]
    assert len(shown) == MAX_FIGURES
    assert "1.6 MB" in figures[0].note and not figures[0].data
    assert "3 more image(s)" in figures[-1].note
    page = render_html(_report(figures=figures))
    assert page.count("<img ") == MAX_FIGURES and "3 more image(s)" in page
    assert notebook_figures(None) == ()


def test_figures_stay_out_of_report_json():
    report = _report()
    assert report.figures and "figures" not in report.to_dict()
    assert report.to_dict()["plots"][0]["x_label"] is None
