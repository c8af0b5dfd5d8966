"""Reports and workbooks as a person sees them.

The HTML reports are opened in a real headless Chromium (skipped when it is not
installed; ``.ci/run`` installs it) with the network off: the page must render with
no console message, hold the map and the charts, show every plant and market of the
bundled case, and every figure on it must equal the result tables.  Workbooks are
read back with pandas; an instance workbook solves to the folder's optimum.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from optimizer.results import format as fmt

ROOT = Path(__file__).resolve().parents[1]
NISSAN = ROOT / "instances" / "nissan_2026_v1"  # the single-year case, whose figures these tests pin
TINY = ROOT / "instances" / "tiny"
CLI = [sys.executable, "-m", "optimizer"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


CHROMIUM = _chromium()
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")


def chromium_args(tmp: Path) -> list[str]:
    return [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0"]


def render(page: Path, tmp: Path, screenshot: Path | None = None, size: str = "1200,2400") -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page`` and the console messages it logged."""
    args = chromium_args(tmp)
    if screenshot is not None:
        args += ["--hide-scrollbars", f"--window-size={size}", f"--screenshot={screenshot}"]
    else:
        args += ["--dump-dom"]
    r = subprocess.run([*args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]
    return r.stdout, console


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of each element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str | None = None, **want: str) -> list[dict[str, str]]:
        out = []
        for t, a in self.tags:
            if tag is not None and t != tag:
                continue
            if all((a.get(k.replace("_", "-")) == v) if v != "*" else (k.replace("_", "-") in a)
                   for k, v in want.items()):
                out.append(a)
        return out


def parse(dom: str) -> Elements:
    e = Elements()
    e.feed(dom)
    return e


def chart_values(el: Elements, chart: str) -> dict[str, float]:
    """label -> data-value of the bars of the chart with id ``chart`` (bars follow their svg in document order)."""
    out: dict[str, float] = {}
    inside = False
    for tag, a in el.tags:
        if tag == "svg":
            inside = a.get("id") == chart
            continue
        if inside and tag == "g" and "data-value" in a and "bar" in a.get("class", ""):
            out[a["data-label"]] = float(a["data-value"])
    return out


def test_console_check_catches_errors(tmp_path: Path) -> None:
    """The console check is not vacuous: a page with a script error is caught."""
    if CHROMIUM is None:
        pytest.skip("chromium not installed")
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); nope();</script></body></html>")
    _, console = render(bad, tmp_path)
    assert any("boom" in c for c in console) and any("nope" in c for c in console)


# ---------------------------------------------------------------------------
# the report of the bundled case
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nissan_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nissan") / "out"
    r = subprocess.run([*CLI, "solve", str(NISSAN), "--out", str(out), "--report", "--xlsx"], capture_output=True,
                       text=True, timeout=300, env=ENV, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    assert (out / "report.html").is_file() and (out / "result.xlsx").is_file()
    return out


def test_report_is_self_contained(nissan_out: Path) -> None:
    page = (nissan_out / "report.html").read_text(encoding="utf-8")
    assert "<img" not in page and "<link" not in page and "<script src" not in page
    # the only URL is the SVG namespace: no CDN, no tile server, no font service
    urls = set(re.findall(r"https?://[^\s'\"<>]+", page.split("<script type='application/json'")[0]))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    data = json.loads(re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page,
                                re.S).group(1))
    assert data["summary"]["objective"] == pytest.approx(json.loads((nissan_out / "summary.json").read_text())[
        "objective"])


@needs_chromium
def test_nissan_report_in_chromium(nissan_out: Path, tmp_path: Path) -> None:
    dom, console = render(nissan_out / "report.html", tmp_path)
    assert console == [], console
    el = parse(dom)
    summary = json.loads((nissan_out / "summary.json").read_text())
    plants = pd.read_csv(nissan_out / "plants.csv")
    flows = pd.read_csv(nissan_out / "flows.csv")
    sales = pd.read_csv(nissan_out / "sales.csv")
    breakdown = pd.read_csv(nissan_out / "breakdown.csv")
    if "year" in sales.columns:  # a multi-year plan: the map and the charts show the last plan year
        last = int(sales["year"].max())
        sales, flows = sales[sales["year"] == last], flows[flows["year"] == last]

    # the map: every plant and every market of the instance, closed plants marked
    assert el.find("svg", id="network-map")
    on_map = {a["data-plant"]: a["data-kept"] for a in el.find("g", **{"class": "plant"})}
    inst_plants = pd.read_csv(NISSAN / "plants.csv")
    assert set(on_map) == set(inst_plants["plant"])
    assert {p for p, k in on_map.items() if k == "false"} == set(plants.loc[~plants["kept"], "plant"])
    markets = {a["data-market"]: float(a["data-units"]) for a in el.find("g", **{"class": "market"})}
    assert set(markets) == set(pd.read_csv(NISSAN / "markets.csv")["market"])
    sold = sales.groupby("market")["sold"].sum()
    for m, u in markets.items():
        assert u == pytest.approx(float(sold.get(m, 0.0)))
    lanes = el.find("path", **{"class": "flow"})
    assert sum(float(a["data-units"]) for a in lanes) == pytest.approx(sales["sold"].sum())
    lane_units = flows.groupby(["plant", "market"])["units"].sum()
    for a in lanes:
        assert float(a["data-units"]) == pytest.approx(lane_units[(a["data-plant"], a["data-market"])])

    # the charts are there
    for chart in ("npv-breakdown", "utilisation", "units-by-market", "margin-by-market", "units-by-model",
                  "margin-by-model", "duty-by-lane", "duty-by-market", "cost-to-serve"):
        assert el.find("svg", id=chart), chart

    # KPI tiles equal the tables
    tiles = {a["data-kpi"]: float(a["data-value"]) for a in el.find("div", **{"class": "tile"})}
    kept = plants["kept"]
    assert tiles["npv"] == pytest.approx(summary["objective"])
    assert tiles["npv"] == pytest.approx(breakdown.set_index("component").loc["npv", "npv"])
    assert tiles["plants_kept"] == kept.sum() and tiles["plants_closed"] == (~kept).sum()
    assert tiles["jobs_cut"] == pytest.approx(plants["jobs_cut"].sum())
    assert tiles["units_sold"] == pytest.approx(sales["sold"].sum())
    assert tiles["duty_paid"] == pytest.approx((flows["units"] * flows["duty"]).sum())
    assert tiles["utilisation"] == pytest.approx(plants.loc[kept, "production"].sum() / plants.loc[kept, "capacity"].sum())
    assert tiles["revenue"] == pytest.approx(sales["revenue_annual"].sum())
    # ... and the tile text is the formatting module's
    assert "USD 65.0 bn" in dom and fmt.money_compact(summary["objective"], "USD") == "USD 65.0 bn"

    # charts equal the tables
    util = chart_values(el, "utilisation")
    assert util == pytest.approx(dict(zip(plants["plant"], plants["utilisation"])))
    assert chart_values(el, "units-by-market") == pytest.approx(sold[sold > 0].to_dict())
    margin = flows.groupby("market")["annual_margin"].sum()
    assert chart_values(el, "margin-by-market") == pytest.approx(margin.to_dict())
    assert chart_values(el, "units-by-model") == pytest.approx(flows.groupby("model")["units"].sum().to_dict())
    duty = (flows["units"] * flows["duty"]).groupby(flows["market"]).sum()
    assert chart_values(el, "duty-by-market") == pytest.approx(duty[duty > 0].to_dict())
    comp = breakdown[breakdown["component"] != "npv"].set_index("component")["npv"]
    wf = chart_values(el, "npv-breakdown")
    assert {k: v for k, v in wf.items() if k != "NPV"} == pytest.approx(comp.to_dict())
    assert wf["NPV"] == pytest.approx(summary["objective"])
    bd_cells = [float(a["data-value"]) for a in el.find("td") if "data-value" in a]
    assert all(any(math.isclose(v, x, rel_tol=1e-9) for x in bd_cells) for v in breakdown["npv"])


def test_cost_to_serve_allocates_all_fixed_cost(nissan_out: Path) -> None:
    from optimizer.results.report import ResultData, cost_to_serve

    d = ResultData.from_dir(nissan_out)
    cts = cost_to_serve(d)
    p = d.tables["plants"]
    producing = p[p["kept"] & (p["production"] > 0)]
    # fixed cost per unit x units, summed over markets = the fixed cost of the producing plants
    assert (cts["fixed (allocated)"] * cts["units"]).sum() == pytest.approx(producing["fixed_cost_annual"].sum())
    fl = d.tables["flows"]
    assert (cts["revenue"] * cts["units"]).sum() == pytest.approx((fl["units"] * fl["price"]).sum())
    assert (cts["margin"] * cts["units"]).sum() == pytest.approx(fl["annual_margin"].sum()
                                                                 - producing["fixed_cost_annual"].sum())


def test_report_command_on_a_result_dir(nissan_out: Path, tmp_path: Path) -> None:
    dest = tmp_path / "again.html"
    r = subprocess.run([*CLI, "report", str(nissan_out), "--out", str(dest)], capture_output=True, text=True,
                       timeout=120, env=ENV, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    a = dest.read_text(encoding="utf-8")
    b = (nissan_out / "report.html").read_text(encoding="utf-8")
    strip = re.compile(r"Written by optimizer on [^.]*\.")
    assert strip.sub("", a) == strip.sub("", b)  # the same page from the folder as from the solve


def test_result_workbook_reads_back(nissan_out: Path) -> None:
    book = pd.read_excel(nissan_out / "result.xlsx", sheet_name=None)
    assert list(book)[:6] == ["summary", "plants", "flows", "sales", "software", "breakdown"]
    summ = dict(zip(book["summary"]["item"], book["summary"]["value"]))
    assert float(summ["objective"]) == pytest.approx(json.loads((nissan_out / "summary.json").read_text())["objective"])
    assert summ["currency"] == "USD"
    for name in ("plants", "flows", "sales", "breakdown"):
        csv = pd.read_csv(nissan_out / f"{name}.csv")
        pd.testing.assert_frame_equal(book[name], csv, check_dtype=False, check_exact=False, rtol=1e-9)
    from openpyxl import load_workbook

    wb = load_workbook(nissan_out / "result.xlsx")
    ws = wb["plants"]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"
    col = {c.value: c.column_letter for c in ws[1]}
    assert ws[f"{col['utilisation']}2"].number_format == fmt.XLSX_PCT
    assert ws[f"{col['capacity']}2"].number_format == fmt.XLSX_INT


# ---------------------------------------------------------------------------
# the scenario comparison report
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cmpb")
    d = tmp / "tiny"
    shutil.copytree(TINY, d)
    (d / "scenarios.yaml").write_text(yaml.safe_dump({"scenarios": {
        "keep_a": {"changes": [{"table": "plants", "where": {"plant": "A"}, "set": {"status": "keep"}}]},
        "th_half": {"changes": [{"table": "demand", "where": {"market": "TH"}, "scale": {"max_units": 0.5}}]},
    }}))
    out = tmp / "out"
    from optimizer.studies.batch import run_batch

    run_batch(d, out, workers=0)
    return out


@needs_chromium
def test_compare_report_in_chromium(tiny_batch: Path, tmp_path: Path) -> None:
    r = subprocess.run([*CLI, "compare", str(tiny_batch), "--out", str(tmp_path / "rep"), "--xlsx"],
                       capture_output=True, text=True, timeout=120, env={**ENV, "COLUMNS": "80"}, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    page = tmp_path / "rep" / "report.html"
    dom, console = render(page, tmp_path)
    assert console == [], console
    el = parse(dom)
    summary = pd.read_csv(tmp_path / "rep" / "comparison.csv").set_index("job")
    bars = chart_values(el, "npv-change-chart")
    assert bars == pytest.approx(summary["npv_change"].dropna().to_dict())
    assert list(bars.values()) == sorted(bars.values(), reverse=True)  # sorted, largest first
    solved = summary[summary["npv_change"].notna()]
    assert chart_values(el, "changed-plant-chart") == pytest.approx(solved["units_changed_plant"].to_dict())
    assert summary.loc["keep_a", "units_changed_plant"] > 0
    comp = pd.read_csv(tmp_path / "rep" / "npv_by_component.csv").set_index("job")
    for job in comp.index:
        wf = chart_values(el, f"waterfall-{job}")
        assert wf["ΔNPV"] == pytest.approx(summary.loc[job, "npv_change"])
        for k, v in wf.items():
            if k != "ΔNPV":
                assert v == pytest.approx(comp.loc[job, k])
    cells = el.find("g", **{"class": "cell"})
    decisions = pd.read_csv(tmp_path / "rep" / "plant_decisions.csv").set_index("plant")
    assert len(cells) == decisions.size
    for a in cells:
        assert (a["data-state"] == "kept") == bool(decisions.loc[a["data-plant"], a["data-job"]])
    changed = {(a["data-plant"], a["data-job"]) for a in cells if a["data-changed"] == "true"}
    assert changed == {("A", "keep_a"), ("B", "keep_a")}
    book = pd.read_excel(tmp_path / "rep" / "comparison.xlsx", sheet_name=None)
    assert list(book)[0] == "comparison" and set(book["comparison"]["job"]) == set(summary.index)


def test_flow_shift_splits_plant_changes_from_stack_switches() -> None:
    from optimizer.studies.compare import _shifts

    idx = pd.MultiIndex.from_tuples
    base = pd.Series([100.0, 50.0], index=idx([("M", "V", "A", "s1"), ("M", "V", "B", "s1")]))
    # A: 100 s1 -> 60 s1 + 40 s2 (a stack switch); B: 50 -> 0, C: 0 -> 30 (30 changed plant, 20 not sold)
    new = pd.Series([60.0, 40.0, 30.0], index=idx([("M", "V", "A", "s1"), ("M", "V", "A", "s2"),
                                                   ("M", "V", "C", "s1")]))
    sh = _shifts(base, new).iloc[0]
    assert sh["stack_switch"] == pytest.approx(40) and sh["changed_plant"] == pytest.approx(30)
    assert sh["net_change"] == pytest.approx(-20) and sh["moved"] == pytest.approx(40 + 40 + 50 + 30)


# ---------------------------------------------------------------------------
# an instance as one workbook
# ---------------------------------------------------------------------------


def test_xlsx_instance_round_trip_same_optimum(tmp_path: Path) -> None:
    import optimizer

    book = tmp_path / "nissan.xlsx"
    r = subprocess.run([*CLI, "convert", "xlsx", str(NISSAN), str(book)], capture_output=True, text=True, timeout=120,
                       env=ENV, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    sheets = pd.read_excel(book, sheet_name=None)
    assert list(sheets)[0] == "settings" and {"plants", "demand", "tariffs"} <= set(sheets)
    folder = optimizer.solve(NISSAN)
    from_book = optimizer.solve(book)
    assert from_book.status == folder.status
    assert from_book.objective == pytest.approx(folder.objective, rel=1e-9)
    assert from_book.kpis["closed_plants"] == folder.kpis["closed_plants"]
    assert from_book.instance == folder.instance
    inst_a, inst_b = optimizer.load(NISSAN), optimizer.load(book)
    assert inst_a.settings.model_copy(update={"tables": {}}) == inst_b.settings.model_copy(update={"tables": {}})
    for name, df in inst_a.tables.items():
        pd.testing.assert_frame_equal(df.reset_index(drop=True), inst_b.tables[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)
    # and back to a folder
    back = tmp_path / "back"
    r = subprocess.run([*CLI, "convert", "xlsx", str(book), str(back)], capture_output=True, text=True, timeout=120,
                       env=ENV, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    assert optimizer.solve(back).objective == pytest.approx(folder.objective, rel=1e-9)


def test_xlsx_instance_errors_name_sheet_row_column(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book = tmp_path / "case.xlsx"
    subprocess.run([*CLI, "convert", "xlsx", str(TINY), str(book)], check=True, env=ENV, cwd=ROOT, capture_output=True)
    wb = load_workbook(book)
    ws = wb["plants"]
    col = {c.value: c.column_letter for c in ws[1]}
    ws[f"{col['capacity']}3"] = "lots"
    wb["settings"].append(["horizon", 3])
    wb.create_sheet("plantz")
    wb.save(book)
    r = subprocess.run([*CLI, "solve", str(book)], capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT,
                       check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "case.xlsx[plants], table 'plants', row 3, column 'capacity': 'lots' is not a finite number" in r.stderr
    assert "case.xlsx[settings], row " in r.stderr and "column 'horizon': unknown key" in r.stderr
    assert "case.xlsx[plantz]: unknown table 'plantz'" in r.stderr
    # a cross-table problem names the sheet and row too
    subprocess.run([*CLI, "convert", "xlsx", str(TINY), str(book)], check=True, env=ENV, cwd=ROOT, capture_output=True)
    wb = load_workbook(book)
    ws = wb["demand"]
    col = {c.value: c.column_letter for c in ws[1]}
    ws[f"{col['market']}2"] = "ZZ"
    wb.save(book)
    r = subprocess.run([*CLI, "validate", str(book)], capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT,
                       check=False)
    assert r.returncode == 2 and "case.xlsx[demand], table 'demand', row 2, column 'market'" in r.stderr
    del wb["demand"]
    wb.save(book)
    r = subprocess.run([*CLI, "validate", str(book)], capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT,
                       check=False)
    assert r.returncode == 2 and "Add a sheet named 'demand'" in r.stderr


def test_solve_writes_workbook_and_report_need_out() -> None:
    r = subprocess.run([*CLI, "solve", str(TINY), "--xlsx"], capture_output=True, text=True, timeout=120, env=ENV,
                       cwd=ROOT, check=False)
    assert r.returncode == 2 and "--out" in r.stderr


# ---------------------------------------------------------------------------
# terminal tables and formatting
# ---------------------------------------------------------------------------


def test_compare_table_fits_80_columns_without_breaking_names(tmp_path: Path) -> None:
    from optimizer.cli.tables import Col, fit_table
    from rich.console import Console

    rows = [["mexico_retaliation", "optimal", "-3.20 bn", "-4.92%", "closed Aguascalientes_A1, Resende; kept "
             "Aguascalientes_A2, CIVAC", "-", "FRONTIER->US: 120,000 changed plant, net 0"]]
    cols = [Col("job", priority=9), Col("status", priority=3), Col("ΔNPV USD", "right", 8), Col("Δ%", "right", 6),
            Col("plants changed", priority=7, wrap=True), Col("software changed", priority=4, wrap=True),
            Col("largest flow shift", priority=2, wrap=True)]
    import io

    con = Console(width=80, record=True, file=io.StringIO())
    t, dropped = fit_table("t", cols, rows, 80)
    con.print(t)
    text = con.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    for word in ("mexico_retaliation", "Aguascalientes_A1,", "Aguascalientes_A2,", "optimal", "-3.20 bn"):
        if word == "optimal" and "status" in dropped:
            continue
        assert word in text, (word, text)
    assert dropped and "job" not in dropped and "plants changed" not in dropped


def test_batch_says_jobs_were_reused(tiny_batch: Path) -> None:
    r = subprocess.run([*CLI, "batch", str(tiny_batch.parent / "tiny"), "--out", str(tiny_batch), "--workers", "0",
                        "-q"], capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    assert "3 of 3 job(s) reused" in r.stdout


def test_format_rules() -> None:
    assert fmt.money(64995418864.12, "USD") == "USD 64,995,418,864"
    assert fmt.money_compact(64995418864.12, "USD") == "USD 65.0 bn"
    assert fmt.money_compact(-1.234e6, "EUR", sign=True) == "-EUR 1.23 m"
    assert fmt.signed_compact(2.5e9) == "+2.50 bn" and fmt.signed_compact(0.2) == "0"
    assert fmt.compact(2340) == "2,340" and fmt.compact(99_950_000) == "100 m"
    assert fmt.number(None) == "-" and fmt.number(float("nan")) == "-" and fmt.number(float("inf")) == "inf"
    assert fmt.pct(0.6719) == "67.2%" and fmt.signed_pct(-1.2) == "-1.20%" and fmt.signed(-0.2) == "0"


def test_report_of_a_multi_year_plan_and_of_no_solution(nissan_out: Path) -> None:
    from optimizer.results.report import ResultData, render_report

    d = ResultData.from_dir(nissan_out)
    for n in ("plants", "flows", "sales"):
        t = d.tables[n]
        d.tables[n] = pd.concat([t.assign(year=2026), t.assign(year=2027)], ignore_index=True)
    page = render_report(d)
    assert "id='by-year-table'" in page and "id='plants-by-year'" in page and "final year, 2027" in page
    el = parse(page)
    rows = [a for a in el.find("td") if "data-value" in a]
    units = pd.read_csv(nissan_out / "flows.csv")["units"].sum()
    assert sum(1 for a in rows if math.isclose(float(a["data-value"]), units)) == 2  # one row per year
    summ = json.loads((nissan_out / "summary.json").read_text())
    summ["status"], summ["message"] = "infeasible", "min_jobs_cut too high"
    assert "No solution to report: min_jobs_cut too high" in render_report(ResultData(summ, {}))


@needs_chromium
def test_nissan_report_screenshot_is_not_blank(nissan_out: Path, tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image")

    shot = tmp_path / "report.png"
    _, console = render(nissan_out / "report.html", tmp_path, screenshot=shot, size="1150,1000")
    assert console == [], console
    im = Image.open(shot).convert("RGB")
    assert im.size == (1150, 1000)
    colours = im.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # tiles, map and labels drawn, not an empty page
    # the map's kept-plant green and closed-plant vermillion are on screen (Okabe-Ito)
    px = {c for _, c in colours}
    assert (0x00, 0x9E, 0x73) in px and (0xD5, 0x5E, 0x00) in px


def test_report_of_the_bundled_multi_year_case(tmp_path: Path) -> None:
    """The bundled 2026-2035 plan: the report is written and its map carries every plant of the instance."""
    import re

    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "optimizer", "solve", str(ROOT / "instances" / "nissan_2026"),
                          "--out", str(out), "--report"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    html = (out / "report.html").read_text(encoding="utf-8")
    on_map = set(re.findall(r"data-plant=['\"]([^'\"]+)['\"]", html))
    assert on_map == set(pd.read_csv(ROOT / "instances" / "nissan_2026" / "plants.csv")["plant"])
    assert "network-map" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
