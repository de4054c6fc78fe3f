"""`flask --app app import-grids / import-people`: Excel's GBK or UTF-8, bad rows named, nothing half-imported."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from storage.models import Grid, Person, Ticket
from tests.importing import cli, count

GRIDS = """code,name,community,aliases,chat_id,lat,lng
A01,和平里第1网格,和平里小区,和平里小区1-3栋|和平里菜场,chat-a01,30.1,120.1
A02,和平里第2网格,和平里小区,和平里小区4-6栋,chat-a02,,
"""
PEOPLE = """role,id,name,grid,phone,address
grid_worker,wangwu,王五,A01,13700000001,
supervisor,o-sup,街道指挥中心,,,
resident,o-res,赵六,A02,13700000002,和平里小区5栋
"""


def test_gbk_file_from_excel_imports_and_expands_building_ranges(app, session, tmp_path: Path):
    grids = tmp_path / "grids.csv"
    grids.write_bytes(GRIDS.encode("gbk"))
    result = cli(app, "import-grids", str(grids))
    assert result.exit_code == 0, result.output
    assert "新增 2" in result.output
    grid = session.exec(select(Grid).where(Grid.code == "A01")).one()
    assert grid.alias_list() == ["和平里小区1栋", "和平里小区2栋", "和平里小区3栋", "和平里菜场"]
    assert grid.lat == 30.1


def test_people_import_links_grids_and_reimport_updates(app, session, tmp_path: Path):
    (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8-sig")
    (tmp_path / "p.csv").write_text(PEOPLE, encoding="utf-8")
    assert cli(app, "import-grids", str(tmp_path / "g.csv")).exit_code == 0
    assert "新增 3" in cli(app, "import-people", str(tmp_path / "p.csv")).output
    assert "更新 3" in cli(app, "import-people", str(tmp_path / "p.csv")).output
    worker = session.exec(select(Person).where(Person.wecom_userid == "wangwu")).one()
    assert worker.role == "grid_worker" and worker.grid_id is not None
    assert session.exec(select(Person).where(Person.openid == "o-res")).one().address == "和平里小区5栋"


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(app, session, tmp_path: Path):
    (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8")
    cli(app, "import-grids", str(tmp_path / "g.csv"))
    people = PEOPLE + "mayor,o-x,某人,,,\ngrid_worker,lisi,李四,Z99,,\ngrid_worker,,无名,A01,,\n"
    (tmp_path / "p.csv").write_text(people, encoding="utf-8")
    result = cli(app, "import-people", str(tmp_path / "p.csv"))
    assert result.exit_code != 0
    assert "第5行" in result.output and "mayor" in result.output
    assert "第6行" in result.output and "Z99" in result.output
    assert "第7行" in result.output
    assert "未导入任何数据" in result.output
    assert count(session, Person) == 0


def test_missing_columns_are_named(app, tmp_path: Path):
    (tmp_path / "g.csv").write_text("code,name\nA01,x\n", encoding="utf-8")
    result = cli(app, "import-grids", str(tmp_path / "g.csv"))
    assert result.exit_code != 0 and "缺少列" in result.output and "aliases" in result.output


def test_tickets_lists_what_residents_reported(app, resident):
    resident.say("3号楼楼道灯坏了")
    output = cli(app, "tickets").output
    assert "G01" in output and "楼道灯" in output


def test_a_grid_boundary_routes_a_shared_location_inside_it(app, demo, stranger, oa, session, tmp_path: Path):
    # 人民路沿街网格 (G06) gets a boundary that reaches to 阳光花园's gate, nearer G05's centre than its own; G05 loses
    # the demo's outline there (an import without a polygon clears it), so only G06's holds the gate.
    boundary = "120.1570,30.2690;120.1620,30.2690;120.1620,30.2722;120.1570,30.2722"
    grids = tmp_path / "grids.csv"
    grids.write_text(
        "code,name,community,aliases,chat_id,lat,lng,polygon\n"
        # Excel quotes a cell with commas in it.
        f'G06,人民路沿街网格,人民路,人民路|人民路菜场|文化广场,wrk-chat-g06,30.27000,120.15800,"{boundary}"\n'
        "G05,阳光花园第2网格,阳光花园,阳光花园7-12栋,wrk-chat-g05,30.27230,120.16130,\n",
        encoding="utf-8",
    )
    imported = cli(app, "import-grids", str(grids))
    assert imported.exit_code == 0, imported.output
    stranger.say("路灯坏了")
    stranger.send(oa.location(stranger.openid, 30.2721, 120.1612, "阳光花园门口"))
    ticket = session.exec(select(Grid).join(Ticket, Ticket.grid_id == Grid.id)).one()
    assert ticket.code == "G06"


def test_a_bad_boundary_is_refused_by_line(app, tmp_path: Path):
    grids = tmp_path / "grids.csv"
    grids.write_text("code,name,community,aliases,chat_id,lat,lng,polygon\nB01,测试网格,,,,,,120.1 30.2\n")
    result = cli(app, "import-grids", str(grids))
    assert result.exit_code != 0 and "第2行：polygon" in result.output


def test_a_grid_reimport_reroutes_the_next_complaint_at_once(app, demo, resident, session, tmp_path: Path):
    """Routing keeps its index while the grid list's version token is unchanged; an import replaces the token in
    its own transaction, so the very next complaint sees the new grid."""
    resident.say("幸福小区3栋楼道灯坏了")
    grids = tmp_path / "grids.csv"
    grids.write_text(
        "code,name,community,aliases,chat_id,lat,lng\n"
        "G01,幸福小区第1网格,幸福小区,幸福小区1-2栋|幸福小区南门,wrk-chat-g01,30.27410,120.15510\n"
        "G09,幸福小区第9网格,幸福小区,幸福小区3-4栋,wrk-chat-g09,30.27420,120.15520\n",
        encoding="utf-8",
    )
    assert cli(app, "import-grids", str(grids)).exit_code == 0
    resident.say("幸福小区3栋门口垃圾三天没人清运")
    routed = session.exec(select(Grid.code).join(Ticket, Ticket.grid_id == Grid.id).order_by(Ticket.id)).all()
    assert routed == ["G01", "G09"]


def test_a_complaint_reads_no_grid_rows_while_the_grid_list_is_unchanged(app, rt, demo, resident, session):
    """A city's 32,000 grid rows would cost about a second per complaint (python -m bench scale --part grids)."""
    resident.say("幸福小区3栋楼道灯坏了")  # the first complaint of a process builds the index
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(rt.engine, "before_cursor_execute", seen)
    try:
        assert "工单号" in resident.say("幸福小区4栋门口垃圾三天没人清运")
    finally:
        event.remove(rt.engine, "before_cursor_execute", seen)
    assert any("FROM data_version" in s for s in statements)
    assert not [s for s in statements if "FROM grid ORDER BY" in s], "every grid row was read"


# A file that reads well up to one bad row (or not at all), the line named, and what the message must say.
BAD_PEOPLE = {
    "the same id twice: a resident, then a supervisor": (
        PEOPLE + "supervisor,o-res,赵六,,,\n",
        "第5行",
        "与第4行是同一人",
    ),
    "one WeCom account, with and without wecom:": (
        PEOPLE + "supervisor,wecom:wangwu,王五,,,\n",
        "第5行",
        "与第2行是同一人",
    ),
    "a short row": (PEOPLE + "resident,o-short,钱七\n", "第5行", "只有 3 列"),
    "a long name": (PEOPLE + f"resident,o-long,{'名' * 65},,,\n", "第5行", "name 最多 64"),
    "a long phone": (PEOPLE + f"resident,o-long,钱七,,{'1' * 33},\n", "第5行", "phone 最多 32"),
    "a long address": (PEOPLE + f"resident,o-long,钱七,,,{'和平里小区' * 26}\n", "第5行", "address 最多 128"),
    "a long openid": (PEOPLE + f"resident,{'o' * 65},钱七,,,\n", "第5行", "openid 最多 64"),
    "wecom: without a userid": (PEOPLE + "supervisor,wecom:,街道,,,\n", "第5行", "缺少账号"),
    "an unquoted comma in an address": (PEOPLE + "resident,o-comma,钱七,,,和平里,5栋\n", "第5行", "多出内容"),
}
BAD_PEOPLE_BYTES = {
    "UTF-16 (Excel's Unicode text)": (PEOPLE.encode("utf-16"), "第1行", "UTF-16"),
    "UTF-16 without a BOM": (PEOPLE.encode("utf-16-le"), "第1行", "UTF-16"),
    "neither UTF-8 nor GBK": (PEOPLE.encode() + b"resident,o-x,\xff\xfe,,,\n", "第5行", "无法识别"),
    "a picture": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "第3行", "二进制"),
    "a workbook, not saved as CSV": (b"PK\x03\x04\x14\x00\x06\x00", "第1行", "另存为"),
}
# Rows after GRIDS' two good ones: line 4.
BAD_GRIDS = {
    "lat nan": ("A03,和平里第3网格,和平里,,,nan,120.1", "lat 应在 -90 到 90"),
    "lng inf": ("A03,和平里第3网格,和平里,,,30.1,inf", "lng 应在 -180 到 180"),
    "lat 999": ("A03,和平里第3网格,和平里,,,999,120.1", "lat 应在 -90 到 90"),
    "lat and lng swapped": ("A03,和平里第3网格,和平里,,,120.1,30.1", "填反"),
    "a long code": (f"{'A' * 33},和平里第3网格,和平里,,,,", "code 最多 32"),
    "a long name": (f"A03,{'和平里' * 22},和平里,,,,", "name 最多 64"),
    "a short row": ("A03,和平里第3网格,和平里", "只有 3 列"),
}


def refused_whole(result, line: str, problem: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert line in result.output and problem in result.output, result.output
    assert "未导入任何数据" in result.output


@pytest.mark.parametrize(("content", "line", "problem"), BAD_PEOPLE.values(), ids=BAD_PEOPLE.keys())
def test_a_bad_people_file_is_refused_by_line_and_imports_nobody(
    app, session, tmp_path: Path, content: str, line: str, problem: str
):
    (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8")
    assert cli(app, "import-grids", str(tmp_path / "g.csv")).exit_code == 0
    (tmp_path / "p.csv").write_text(content, encoding="utf-8")
    result = cli(app, "import-people", str(tmp_path / "p.csv"))
    refused_whole(result, line, problem)
    assert count(session, Person) == 0


@pytest.mark.parametrize(("raw", "line", "problem"), BAD_PEOPLE_BYTES.values(), ids=BAD_PEOPLE_BYTES.keys())
def test_a_file_that_is_not_csv_text_is_refused_with_what_to_do(
    app, session, tmp_path: Path, raw: bytes, line: str, problem: str
):
    (tmp_path / "p.csv").write_bytes(raw)
    result = cli(app, "import-people", str(tmp_path / "p.csv"))
    refused_whole(result, line, problem)
    assert count(session, Person) == 0


@pytest.mark.parametrize(("row", "problem"), BAD_GRIDS.values(), ids=BAD_GRIDS.keys())
def test_a_bad_grid_file_is_refused_by_line_and_imports_no_grid(app, session, tmp_path: Path, row: str, problem: str):
    (tmp_path / "g.csv").write_text(GRIDS + row + "\n", encoding="utf-8")
    result = cli(app, "import-grids", str(tmp_path / "g.csv"))
    refused_whole(result, "第4行", problem)
    assert count(session, Grid) == 0


def test_an_over_long_row_is_not_echoed(app, tmp_path: Path):
    """PostgreSQL's refusal of an over-long value quotes the whole row: the phone and address must not be printed."""
    (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8")
    cli(app, "import-grids", str(tmp_path / "g.csv"))
    phone, address = "1" * 33, "和平里小区5栋" * 20
    (tmp_path / "p.csv").write_text(PEOPLE + f"resident,o-long,钱七,A02,{phone},{address}\n", encoding="utf-8")
    result = cli(app, "import-people", str(tmp_path / "p.csv"))
    assert "第5行：phone" in result.output and "第5行：address" in result.output
    assert phone not in result.output and address not in result.output


@contextmanager
def refusing(engine, table: str, column: str, value: str) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """While the block runs, the database refuses a row of `table` whose `column` is `value` (a trigger on SQLite, a
    CHECK on PostgreSQL): a rule of its own that no check of ours knows about."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT refuse_{table} CHECK ({column} <> '{value}')"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text(f"DROP TRIGGER refuse_{table}"))
            else:
                conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT refuse_{table}"))


def test_a_row_the_database_refuses_is_named_without_its_content(app, rt, session, tmp_path: Path):
    """Whatever the checks before it miss, the database's own error (it quotes the row) never reaches the screen."""
    (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8")
    cli(app, "import-grids", str(tmp_path / "g.csv"))
    # a rule of the database's that no check of ours knows about
    with refusing(rt.engine, "person", "name", "赵六"):
        (tmp_path / "p.csv").write_text(PEOPLE, encoding="utf-8")
        result = cli(app, "import-people", str(tmp_path / "p.csv"))
    refused_whole(result, "第4行", "数据库写入失败")
    assert "13700000002" not in result.output and "和平里小区5栋" not in result.output
    assert count(session, Person) == 0


def test_a_grid_the_database_refuses_names_the_lines_written_with_it_and_imports_none(app, rt, session, tmp_path):
    """Grids are written a thousand at a time: a refusal names that batch's lines, and nothing is imported."""
    with refusing(rt.engine, "grid", "code", "A02"):
        (tmp_path / "g.csv").write_text(GRIDS, encoding="utf-8")
        result = cli(app, "import-grids", str(tmp_path / "g.csv"))
    last = len(GRIDS.strip().splitlines())
    refused_whole(result, f"第2至{last}行", "数据库写入失败")
    assert count(session, Grid) == 0
