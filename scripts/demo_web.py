"""`make demo-web`: screenshots of every page of the web interface, over a copy of the archive `make run`
builds (out/archive.db; the README's were taken after `congvan process ../shared/real --db out/archive.db`
added the real documents), saved to out/screens/.

The copy gets a demo editor, one correction and one finished task, so that the review queue, the change log
and the tasks board show what they look like in use. Chromium runs headless from the Debian packages."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser_support import chromium, serve  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from pipeline.archive import open_archive  # noqa: E402
from pipeline.archive.review import field_value  # noqa: E402
from pipeline.archive.store import SearchFilters, TaskFilters  # noqa: E402
from pipeline.web import WebConfig  # noqa: E402
from pipeline.web.app import url  # noqa: E402
from pipeline.web.auth import hash_password  # noqa: E402

USER, PASSWORD = "demo", "demo password"


def prepare(source: Path, target: Path) -> dict[str, object]:
    """A copy of the archive with a demo editor, one correction and one finished task; ids to show."""
    shutil.copy(source, target)
    with open_archive(target) as store:
        store.add_user(USER, "editor", hash_password(PASSWORD))
        shown: dict[str, object] = {}
        scans = [card for card in store.browse(SearchFilters(), order="date", limit=200, offset=0)[1]
                 if card.kind != "text" and card.code and not card.review]
        if scans:  # a scanned page to box a hit on: its own number, then a phrase of its text
            shown["document"] = scans[0].id
            shown["code"] = scans[0].code
        _, queue = store.review_queue(limit=50, offset=0)
        uncertain = [card for card in queue if any(r.endswith("_low_confidence") for r in card.review)]
        if uncertain:  # a clerk has confirmed one uncertain value: the change log shows it
            card = uncertain[0]
            shown["review"] = card.id
            reason = next(r for r in card.review if r.endswith("_low_confidence"))
            field = "signer.name" if reason.startswith("signer") else reason.split("_")[0]
            if not store.corrections(card.id):
                store.add_correction(card.id, field, field_value(store.load_record(card.id), field), user=USER)
        _, tasks = store.task_board(TaskFilters(), limit=1)
        if tasks and tasks[0].status == "open":
            store.set_task_status(tasks[0].uid, "done", user=USER)
        if "document" not in shown:
            _, cards = store.browse(SearchFilters(), order="date", limit=1, offset=0)
            shown["document"] = cards[0].id
    return shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "out" / "archive.db")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "screens")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"demo-web: no archive at {args.db} (run make run first)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "demo-archive.db"
    shown: dict = prepare(args.db, work)
    document = shown["document"]
    pages = [
        ("01-search-browse", "/"),
        ("02-search-reference", "/?q=539%2FQD-UBND"),
        ("03-search-text", "/?q=nong+thon+moi"),
        ("04-document-hit", url(f"/documents/{document}", q=shown.get("code"))),
        ("05-document-zoom", url(f"/documents/{document}", q="ủy ban nhân dân", zoom=150)),
        ("06-review", "/review"),
        ("07-edit", f"/documents/{shown.get('review', document)}/edit?next=/review"),
        ("08-tasks", "/tasks"),
        ("09-intake", "/intake"),
        ("10-history", "/history"),
        ("11-search-english", "/?q=ke+hoach&lang=en"),
    ]
    with serve(WebConfig(db=work, intake_worker=False)) as base, chromium() as driver:
        driver.set_window_size(1440, 1000)
        driver.get(base + "/login")
        driver.save_screenshot(str(args.out / "00-login.png"))
        driver.find_element(By.NAME, "name").send_keys(USER)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
        for name, path in pages:
            driver.get(base + path)
            time.sleep(0.3)  # page images finish decoding
            height = driver.execute_script("return Math.min(document.body.scrollHeight, 2400)")
            driver.set_window_size(1440, max(900, int(height)))
            driver.save_screenshot(str(args.out / f"{name}.png"))
            driver.set_window_size(1440, 1000)
    work.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(work) + suffix).unlink(missing_ok=True)
    print(f"demo-web: {len(pages) + 1} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
