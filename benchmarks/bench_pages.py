"""Every page's cold and warm render, the patient profile's queries, `status` and the CRM, on the
scaled demo (issue 16).

    python benchmarks/bench_pages.py [--studies 70] [--subjects 2000] [--app DIR] [--no-browser]

The scaled demo (K studies x N subjects; 70 x 2,000 = ~1M AEs, 19M labs) is built once into
``$SAFETY_BENCH_DIR`` (default /tmp/safety-bench), outside the repository, and reused by every
later run. ``--app`` is the checkout whose code is measured (default: this one): run it once on
a checkout of main and once on a branch, against the same database, for a before/after table.

- **AppTest** (server side): per page a fresh process signs in (local mode), renders the
  Overview, then the page: *cold* is that first render of the page (the Overview's shared reads,
  e.g. the study list, are warm by then), *warm* the median of 3 reruns.
- **Chromium** against a real ``streamlit run`` (Debian's /usr/bin/chromium through Playwright's
  executable_path, local mode): each page from a click until the script has finished and
  nothing is stale, cold (first visit since the server started) and warm (away and back). The
  user's first page (the Overview; Users and roles for the administrator) is opened by the
  click on Sign in, and its cold visit is timed from that click (the server's first page: its
  imports and every cold read); the sign-in form's own loading is left out.
- **Patient profile**: each query of ``safety.monitor.patient.load_profile`` for four patients
  of the first study (median of 5 warm runs).
- **Decision history** of the first study (what the Dose escalation page's toggle shows):
  ``decisions.decision_history`` in a fresh process, the slower of two runs.
- ``python -m safety status --study <first>`` and ``design decide --design crm`` wall time.

A page that takes longer than ``--timeout`` is reported as "> timeout".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PAGES = {  # script -> sidebar title, the demo user who may open it
    "pages/overview.py": ("Overview", "sam"),
    "pages/escalation.py": ("Dose escalation", "sam"),
    "pages/adverse_events.py": ("Adverse events", "sam"),
    "pages/labs.py": ("Labs", "sam"),
    "pages/patient.py": ("Patient", "sam"),
    "pages/reports.py": ("DSMB reports", "sam"),
    "pages/data.py": ("Data", "sam"),
    "pages/alerts.py": ("Alerts", "sam"),
    "pages/access.py": ("Users and roles", "ada"),
}
CHROMIUM = os.environ.get("BROWSER_PATH", "/usr/bin/chromium")
SLOW_LAST = ("pages/escalation.py", "pages/labs.py")  # in the browser, measured last


def bench_dir() -> Path:
    return Path(os.environ.get("SAFETY_BENCH_DIR", "/tmp/safety-bench"))


def build(db: Path, studies: int, subjects: int) -> None:
    """The scaled demo, once (the generator builds beside it and moves it into place)."""
    if db.exists():
        return
    from safety.demo import generator

    start = time.perf_counter()
    summary = generator.build_demo(db, studies=studies, subjects=subjects)
    print(f"built {summary.describe()} in {time.perf_counter() - start:.0f} s", flush=True)


def child(app: Path, db: Path, *args: str, timeout: float) -> dict:
    """Run this script's ``args`` mode in a fresh process on ``app``'s code; its JSON line."""
    env = {**os.environ, "SAFETY_DB": str(db), "PYTHONPATH": str(app / "src")}
    try:
        out = subprocess.run(
            [sys.executable, __file__, *args, "--app", str(app), "--db", str(db)],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1][:200]}
    return json.loads(lines[-1])


# --- inside a child process -----------------------------------------------------------------


def apptest_page(app: Path, page: str) -> dict:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # every run through dashboard.py, as the tests do
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    at = AppTest.from_file(str(app / "dashboard.py"), default_timeout=3600)
    at.session_state["local_user"] = PAGES[page][1]
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    if page != "pages/overview.py":
        start = time.perf_counter()
        at.switch_page(page).run()
        first = time.perf_counter() - start
    warm = []
    for _ in range(3):
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
    errors = [str(e.value)[:120] for e in at.exception]
    return {"cold": first, "warm": statistics.median(warm), "errors": errors}


def patient_queries(db: Path) -> dict:
    from safety import store
    from safety.config import stored_study_config
    from safety.monitor import patient
    from safety.store import queries

    def timed(fn, *args) -> float:
        fn(*args)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            fn(*args)
            runs.append(time.perf_counter() - start)
        return statistics.median(runs)

    result: dict[str, float] = {}
    with store.read_connection(db) as con:
        study = queries.studies.studies(con).iloc[0]
        config = stored_study_config(study["config_toml"], study["study_id"])
        cutoff, sid = study["data_cutoff"].date(), study["study_id"]
        dlts = queries.dlt.dlt_events(con, sid, cutoff)
        roster = queries.subjects.study_roster(con, sid)["usubjid"].tolist()
        for usubjid in [dlts["usubjid"].iloc[0], roster[0], roster[len(roster) // 2], roster[-1]]:
            for name in ("patient_subject", "patient_dlt_state", "patient_dlt_events",
                         "patient_adverse_events", "patient_labs", "patient_vital_signs",
                         "patient_exposure"):  # fmt: skip
                t = timed(getattr(queries.patient, name), con, sid, usubjid, cutoff)
                result[name] = max(result.get(name, 0.0), t)
            t = timed(patient.load_profile, con, config, usubjid, cutoff)
            result["whole profile"] = max(result.get("whole profile", 0.0), t)
    return result


# --- in the parent --------------------------------------------------------------------------


def browser_pages(app: Path, db: Path, timeout: float) -> dict[str, dict]:
    sys.path.insert(0, str(HERE / "tests" / "browser"))
    from pageutil import sign_in_form, start_dashboard, stop, wait_rendered
    from playwright.sync_api import expect, sync_playwright

    env = {**os.environ, "SAFETY_DB": str(db), "PYTHONPATH": str(app / "src")}
    log = bench_dir() / "streamlit.log"
    proc, url = _serve(start_dashboard, app, env, log)
    found: dict[str, dict] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for user in ("Sam Safety", "Ada Admin"):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                sign_in = sign_in_form(page, url, user, timeout * 1000)
                start = time.perf_counter()  # from the click: as a click in the menu
                sign_in.click()
                expect(sign_in).to_have_count(0, timeout=timeout * 1000)  # the page's run began
                wait_rendered(page, timeout=timeout * 1000)
                mine = [s for s, (_, u) in PAGES.items() if (u == "ada") == (user == "Ada Admin")]
                # the sign-in opens the user's first page: its cold visit, timed from the click
                found[mine[0]] = {"cold": time.perf_counter() - start}
                if len(mine) == 1:  # one page: no menu to click (Streamlit hides it); a rerun
                    # (the "r" key) is the warm visit
                    start = time.perf_counter()
                    page.keyboard.press("r")
                    page.wait_for_timeout(200)
                    wait_rendered(page, timeout=timeout * 1000)
                    found[mine[0]]["warm"] = time.perf_counter() - start
                    print(f"Chromium {mine[0]}: {found[mine[0]]}", flush=True)
                    page.close()
                    continue
                mine.sort(key=lambda s: s in SLOW_LAST)  # a page that times out goes last
                for script in mine:
                    for visit in ("cold", "warm"):
                        title = PAGES[script][0]
                        if visit in found.get(script, {}):
                            continue  # the sign-in's page: its cold visit is timed
                        if visit == "warm":  # away and back: the page's reads are cached now
                            page.locator(
                                '[data-testid="stSidebarNav"] a',
                                has_text="Overview" if title != "Overview" else "Alerts",
                            ).first.click()
                            wait_rendered(page, timeout=timeout * 1000)
                        start = time.perf_counter()
                        try:
                            page.locator(
                                '[data-testid="stSidebarNav"] a', has_text=title
                            ).first.click()
                            page.get_by_role("heading", name=title).first.wait_for(
                                timeout=timeout * 1000
                            )
                            wait_rendered(page, timeout=timeout * 1000)
                            found.setdefault(script, {})[visit] = time.perf_counter() - start
                        except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                            found.setdefault(script, {})[visit] = (
                                f"> {timeout:.0f} s ({type(exc).__name__})"
                            )
                            print(f"Chromium {script}: {found[script]}", flush=True)
                            break  # the server is still busy with it: the next pages would wait
                        print(f"Chromium {script}: {found[script]}", flush=True)
                    if isinstance(found.get(script, {}).get("cold"), str):
                        break
                page.close()
            browser.close()
    finally:
        stop(proc)
    return found


def _serve(start_dashboard, app: Path, env: dict, log: Path):
    """``pageutil.start_dashboard`` serves this checkout; serve ``app``'s dashboard instead."""
    import pageutil

    root = pageutil.ROOT
    pageutil.ROOT = app
    try:
        return start_dashboard(env, log)
    finally:
        pageutil.ROOT = root


def history_seconds(db: Path) -> dict:
    """The first study's decision history: days and the slower of two runs."""
    from safety import store
    from safety.config import stored_study_config
    from safety.monitor import decisions
    from safety.store import queries

    with store.read_connection(db) as con:
        study = queries.studies.studies(con).iloc[0]
        config = stored_study_config(study["config_toml"], study["study_id"])
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            days = len(decisions.decision_history(con, config, study["data_cutoff"].date()))
            runs.append(time.perf_counter() - start)
    return {"days": days, "seconds": max(runs)}


def command(app: Path, db: Path, *args: str) -> float:
    env = {**os.environ, "SAFETY_DB": str(db), "PYTHONPATH": str(app / "src")}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "safety", *args], cwd=app, env=env, capture_output=True, check=False
    )  # status exits 1 on a triggered rule
    return time.perf_counter() - start


def fmt(value) -> str:
    if isinstance(value, int | float):
        return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=70)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--app", type=Path, default=HERE, help="the checkout to measure")
    parser.add_argument("--db", type=Path, help="default: the scaled demo in $SAFETY_BENCH_DIR")
    parser.add_argument("--timeout", type=float, default=180, help="seconds per page")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--browser-only", action="store_true")
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child-page")
    parser.add_argument("--child-patient", action="store_true")
    parser.add_argument("--child-history", action="store_true")
    args = parser.parse_args()
    app = args.app.resolve()
    db = args.db or bench_dir() / f"scaled-{args.studies}x{args.subjects}.duckdb"
    if args.child_page:
        print(json.dumps(apptest_page(app, args.child_page)))
        return
    if args.child_patient:
        print(json.dumps(patient_queries(db)))
        return
    if args.child_history:
        print(json.dumps(history_seconds(db)))
        return

    db.parent.mkdir(parents=True, exist_ok=True)
    build(db, args.studies, args.subjects)
    print(
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}; code {app}; database {db} "
        f"({db.stat().st_size / 2**30:.1f} GiB)",
        flush=True,
    )
    results: dict = {"app": str(app), "db": str(db), "apptest": {}, "browser": {}}
    for page in [] if args.browser_only else args.pages:
        r = child(app, db, "--child-page", page, timeout=args.timeout)
        results["apptest"][page] = r
        shown = (
            f"> {args.timeout:.0f} s"
            if "timeout" in r
            else r.get("error")
            or f"cold {fmt(r['cold'])}, warm {fmt(r['warm'])}"
            + (f" ({len(r['errors'])} exceptions: {r['errors'][0]})" if r["errors"] else "")
        )
        print(f"AppTest {page:<26} {shown}", flush=True)
    if not args.browser_only:
        commands(app, db, args, results)
    if not args.no_browser:
        results["browser"] = browser_pages(app, db, args.timeout)
        for page, r in results["browser"].items():
            print(
                f"Chromium {page:<25} cold {fmt(r.get('cold'))}, warm {fmt(r.get('warm'))}",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))


def commands(app: Path, db: Path, args, results: dict) -> None:
    """The patient profile's queries, `status` and the CRM command."""
    results["patient"] = child(app, db, "--child-patient", timeout=args.timeout)
    for name, t in results["patient"].items():
        print(f"patient {name:<26} {fmt(t)} (slowest of 4 patients, warm median)", flush=True)
    results["history"] = child(app, db, "--child-history", timeout=args.timeout)
    history = results["history"]
    print(f"decision history: {history.get('days')} days in "
          f"{fmt(history.get('seconds', history))}", flush=True)
    sid = "NCT04232592"
    results["status"] = command(app, db, "status", "--study", sid, "--json")
    results["status_all"] = command(app, db, "status", "--json")
    results["crm"] = command(
        app,
        db,
        "design",
        "decide",
        "--design",
        "crm",
        "--num-doses",
        "4",
        "--target",
        "0.25",
        "--skeleton",
        "0.05,0.12,0.25,0.4",
        "--outcomes",
        "1NNN 2NNT 3NTT",
    )
    print(
        f"status --study {sid}: {fmt(results['status'])}; status (all 70 studies): "
        f"{fmt(results['status_all'])}; design decide --design crm: {fmt(results['crm'])}",
        flush=True,
    )


if __name__ == "__main__":
    main()
