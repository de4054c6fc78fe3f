"""`flask --app app import-grids / import-people`: Excel's GBK or UTF-8, bad rows named, nothing half-imported."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlmodel import func, select

from storage.models import Grid, Person, Ticket

GRIDS = """code,name,community,aliases,chat_id,lat,lng
A01,和平里第1网格,和平里小区,和平里小区1-3栋|和平里菜场,chat-a01,30.1,120.1
A02,和平里第2网格,和平里小区,和平里小区4-6栋,chat-a02,,
"""
PEOPLE = """role,id,name,grid,phone,address
grid_worker,wangwu,王五,A01,13700000001,
supervisor,o-sup,街道指挥中心,,,
resident,o-res,赵六,A02,13700000002,和平里小区5栋
"""


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


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
    # 人民路沿街网格 (G06) gets a boundary that reaches to 阳光花园's gate, nearer G05's centre than its own.
    boundary = "120.1570,30.2690;120.1620,30.2690;120.1620,30.2722;120.1570,30.2722"
    grids = tmp_path / "grids.csv"
    grids.write_text(
        "code,name,community,aliases,chat_id,lat,lng,polygon\n"
        # Excel quotes a cell with commas in it.
        f'G06,人民路沿街网格,人民路,人民路|人民路菜场|文化广场,wrk-chat-g06,30.27000,120.15800,"{boundary}"\n',
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
    """A city's 32,000 grid rows would cost about a second per complaint (python -m bench grids)."""
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
