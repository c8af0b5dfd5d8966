"""Issue 8, item 5: Ctrl-C stops HiGHS, the incumbent is kept (feasible, with its gap), exit 130.

The interrupt is raised from the progress callback once HiGHS holds a plan, so the tests do
not depend on timing.
"""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import optimizer
from optimizer.bench.generate import generate
from optimizer.solver.highs import SolveProgress, Status, Termination

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic instance that HiGHS needs many seconds to prove optimal (gap 0)."""
    return Path(generate(tmp_path_factory.mktemp("hard") / "p40", plants=40, models=15, markets=40, seed=1))


def test_ctrl_c_keeps_the_incumbent(hard: Path) -> None:
    seen: list[SolveProgress] = []

    def progress(p: SolveProgress) -> None:
        seen.append(p)
        if p.objective is not None and len(seen) >= 2:
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    res = optimizer.solve(hard, mip_gap=0.0, threads=1, time_limit=300, progress=progress)
    assert res.report is not None and res.report.termination is Termination.INTERRUPTED
    assert res.status is Status.FEASIBLE
    assert res.gap is not None and res.gap > 0
    assert "interrupted" in res.message and "gap" in res.message
    # the plan is the incumbent HiGHS reported: its NPV is what the tables add up to
    assert res.breakdown["npv"].iloc[-1] == pytest.approx(res.objective, rel=1e-6)
    assert any(p.objective is not None and p.bound is not None for p in seen)


def test_progress_snapshots_are_sane(hard: Path) -> None:
    seen: list[SolveProgress] = []

    def progress(p: SolveProgress) -> None:
        seen.append(p)
        if len(seen) >= 3:
            _thread.interrupt_main()

    optimizer.solve(hard, mip_gap=0.0, threads=1, time_limit=300, progress=progress)
    assert len(seen) >= 3
    for p in seen:
        assert p.elapsed >= 0
        if p.objective is not None and p.bound is not None:
            assert p.bound >= p.objective - 1e-6 * abs(p.objective)  # maximisation: bound above incumbent


def test_cli_sigint_writes_the_plan_and_exits_130(hard: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "optimizer", "solve", str(hard), "--mip-gap", "0", "--threads", "1",
                             "--time-limit", "300", "--solver-log", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ,
                                                                                            "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # wait until HiGHS reports branch and bound with an incumbent
        lines.append(line)
        if "T " in line[:3] or ("%" in line and "Inf" not in line and any(c.isdigit() for c in line[:10])):
            break
    proc.send_signal(signal.SIGINT)
    rest, errtext = proc.communicate(timeout=120)
    text = "".join(lines) + rest + errtext
    assert proc.returncode == 130, text[-3000:]
    assert "Traceback" not in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["termination"] == "interrupted"
    if summary["status"] == "feasible":
        assert summary["gap"] is not None and (out / "flows.csv").is_file()
    else:
        assert summary["status"] == "time_limit" and not (out / "flows.csv").exists()


_CTRL_C_AT_IMPORT = """
import runpy, sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == TARGET:
            raise KeyboardInterrupt  # what the default SIGINT handler raises mid-import
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["optimizer", "solve", "instances/tiny"]
runpy.run_module("optimizer", run_name="__main__")
"""


@pytest.mark.parametrize("module", ["click", "pandas", "yaml", "highspy", "optimizer.data.instance"])
def test_ctrl_c_during_imports_exits_130_without_traceback(module: str) -> None:
    code = f"TARGET = {module!r}\n" + _CTRL_C_AT_IMPORT
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 130, proc.stderr
    assert "Interrupted" in proc.stderr


def test_status_line_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from optimizer.cli.commands import _StatusLine

    snap = SolveProgress(elapsed=1.5, objective=2340.0, bound=2400.0, gap=0.025, nodes=7)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    line = _StatusLine()
    line(snap)
    line.clear()
    assert capsys.readouterr().err == ""  # in a pipe: nothing
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    line = _StatusLine()
    line(snap)
    text = capsys.readouterr().err
    assert "incumbent 2,340" in text and "bound 2,400" in text and "gap 2.500%" in text and text.startswith("\r")
    line.clear()
    assert capsys.readouterr().err == "\r\x1b[2K"  # the line disappears


def test_run_error_becomes_status_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kError from run() is an error status with a message, whatever the model status says."""
    from optimizer.solver import highs as hs

    real = hs.run_interruptible

    def failing(h, on_progress=None, every=0.5):
        out = real(h, on_progress, every)
        import highspy

        return hs.RunOutcome(status=highspy.HighsStatus.kError, interrupted=False)

    monkeypatch.setattr(hs, "run_interruptible", failing)
    res = optimizer.solve(ROOT / "instances" / "tiny")
    assert res.status is Status.ERROR and "run returned an error" in res.message and res.objective is None
