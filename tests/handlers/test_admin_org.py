"""`flask --app app import-org`, and the `org` columns of import-grids / import-people: the tree 区 → 街道 → 社区 in
any row order, its paths kept with the grids', bad rows named by line and nothing half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import aliased
from sqlmodel import select

from storage.models import Grid, OrgUnit, Person
from tests.importing import cli, count, load, statements

# Children before their parents, as a street office's sheet sorted by name would have them.
ORG = """code,name,level,parent,chat_id
C02,和平里社区,community,S01,chat-c02
S01,和平街道,street,D01,chat-s01
C01,幸福社区,community,S01,chat-c01
D01,上城区,district,,chat-d01
S02,湖滨街道,street,D01,
C03,湖滨社区,community,S02,
"""
PATHS = {
    "D01": "/D01/",
    "S01": "/D01/S01/",
    "S02": "/D01/S02/",
    "C01": "/D01/S01/C01/",
    "C02": "/D01/S01/C02/",
    "C03": "/D01/S02/C03/",
}
GRIDS = """code,name,community,aliases,chat_id,lat,lng,org
A01,幸福社区第1网格,幸福小区,幸福小区1-3栋,chat-a01,,,C01
A02,和平里第1网格,和平里小区,和平里小区1-3栋,chat-a02,,,C02
"""
PEOPLE = """role,id,name,grid,phone,address,org
supervisor,o-street,和平街道指挥中心,,,,S01
supervisor,o-city,区指挥中心,,,,
grid_worker,wangwu,王五,A01,13700000001,,
"""


def paths(session) -> dict[str, str]:
    return dict(session.exec(select(OrgUnit.code, OrgUnit.path)).all())


def grid_paths(session) -> dict[str, str]:
    return dict(session.exec(select(Grid.code, Grid.org_path)).all())


def org_code_of_grid(session, code: str) -> str | None:
    query = select(OrgUnit.code).join(Grid, Grid.org_id == OrgUnit.id).where(Grid.code == code)
    return session.exec(query).first()


def org_code_of_person(session, openid: str) -> str | None:
    query = select(OrgUnit.code).join(Person, Person.org_id == OrgUnit.id).where(Person.openid == openid)
    return session.exec(query).first()


def refused_whole(result, line: str, problem: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert line in result.output and problem in result.output, result.output
    assert "未导入任何数据" in result.output


def test_a_tree_in_any_row_order_gets_its_paths(app, session, tmp_path: Path):
    result = load(app, tmp_path, "org", ORG)
    assert result.exit_code == 0, result.output
    assert "新增 6，更新 0" in result.output
    assert paths(session) == PATHS
    parent = aliased(OrgUnit)
    parents = session.exec(select(OrgUnit.code, parent.code).join(parent, OrgUnit.parent_id == parent.id)).all()
    assert dict(parents) == {"S01": "D01", "S02": "D01", "C01": "S01", "C02": "S01", "C03": "S02"}
    assert session.exec(select(OrgUnit.chat_id).where(OrgUnit.code == "S01")).one() == "chat-s01"


def test_moving_a_community_to_another_street_moves_it_and_its_grids(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    assert grid_paths(session) == {"A01": "/D01/S01/C01/", "A02": "/D01/S01/C02/"}

    # Only the row that changes, and without the chat_id column: the stored chats stay.
    result = load(app, tmp_path, "org", "code,name,level,parent\nC01,幸福社区,社区,S02\n")

    assert result.exit_code == 0, result.output
    assert "新增 0，更新 1" in result.output
    assert paths(session) == {**PATHS, "C01": "/D01/S02/C01/"}
    assert grid_paths(session) == {"A01": "/D01/S02/C01/", "A02": "/D01/S01/C02/"}
    assert session.exec(select(OrgUnit.chat_id).where(OrgUnit.code == "C01")).one() == "chat-c01"


def test_moving_a_street_carries_its_communities_and_their_grids_in_a_few_statements(app, rt, session, tmp_path: Path):
    """A city's tree has 3,300 units and 32,000 grids: the grids' paths change in one statement, not one per grid."""
    assert load(app, tmp_path, "org", ORG + "D02,西湖区,district,,\n").exit_code == 0
    many = "".join(f"B{n:02},和平里第{n}网格,和平里小区,,,,,C0{1 + n % 2}\n" for n in range(40))
    assert load(app, tmp_path, "grids", GRIDS + many).exit_code == 0
    with statements(rt.engine) as sent:
        result = load(app, tmp_path, "org", "code,name,level,parent\nS01,和平街道,street,D02\n")

    assert result.exit_code == 0, result.output
    moved = grid_paths(session)
    assert all(path.startswith("/D02/S01/C0") for path in moved.values()), moved
    assert paths(session)["C02"] == "/D02/S01/C02/" and paths(session)["C03"] == "/D01/S02/C03/"
    assert len([s for s in sent if s.startswith("UPDATE grid")]) == 1
    assert len(sent) < 15, sent


def test_a_gbk_file_with_chinese_level_names_imports(app, session, tmp_path: Path):
    content = """code,name,level,parent
D01,上城区,区,
S01,和平街道,街道,D01
T01,三墩镇,乡镇,D01
C01,幸福社区,社区,S01
V01,王家村,村,T01
"""
    result = load(app, tmp_path, "org", content, encoding="gbk")
    assert result.exit_code == 0, result.output
    units = {u.code: (u.name, u.level) for u in session.exec(select(OrgUnit)).all()}
    assert units == {
        "D01": ("上城区", "district"),
        "S01": ("和平街道", "street"),
        "T01": ("三墩镇", "street"),
        "C01": ("幸福社区", "community"),
        "V01": ("王家村", "community"),
    }
    assert paths(session)["V01"] == "/D01/T01/V01/"


# Rows after ORG's six good ones: line 8 on. (rows, the line named, what the message must say)
BAD_ORG = {
    "an empty code": (",某社区,community,S01,", "第8行", "code 和 name 不能为空"),
    "an empty name": ("C09,,community,S01,", "第8行", "code 和 name 不能为空"),
    "a slash in the code": ("S01/C09,某社区,community,S01,", "第8行", "只能含英文字母、数字、- 和 _"),
    "a space in the code": ("C 09,某社区,community,S01,", "第8行", "只能含英文字母、数字、- 和 _"),
    "a long code": (f"{'C' * 33},某社区,community,S01,", "第8行", "code 最多 32"),
    "a long name": (f"C09,{'和平里' * 22},community,S01,", "第8行", "name 最多 64"),
    "a code twice": ("C01,又一个社区,community,S02,", "第8行", "组织编号 C01 与第4行重复"),
    "an unknown level": ("C09,某社区,村委会,S01,", "第8行", "level 应为 district（区）"),
    "a street without a parent": ("S09,某街道,street,,", "第8行", "街道 S09 缺少上级"),
    "a community without a parent": ("C09,某社区,社区,,", "第8行", "社区 C09 缺少上级"),
    "a district with a parent": ("D09,某区,district,D01,", "第8行", "区 D09 是最上一级，parent 应留空"),
    "an unknown parent": ("C09,某社区,community,S99,", "第8行", "上级 S99 不存在"),
    "a community under a district": ("C09,某社区,community,D01,", "第8行", "上级应是街道，而 D01 是区"),
    "a street under a street": ("S09,某街道,street,S01,", "第8行", "上级应是区，而 S01 是街道"),
    "a parent of the wrong level later in the file": (
        "C09,某社区,community,C10,\nC10,又一社区,community,S01,",
        "第8行",
        "上级应是街道，而 C10 是社区",
    ),
    "an unquoted comma": ("C09,某社区,community,S01,chat,x", "第8行", "多出内容"),
}
# Cycles are named with their chain, and instead of (not besides) a complaint about the parent's level.
CYCLES = {
    "a unit its own parent": ("S09,某街道,street,S09,", "第8行：上下级形成循环：S09 → S09"),
    "two streets each other's parent": (
        "S08,甲街道,street,S09,\nS09,乙街道,street,S08,",
        "第8行：上下级形成循环：S08 → S09 → S08（第8、9行）",
    ),
    "three communities in a ring, out of order": (
        "C09,丙社区,community,C07,\nC07,甲社区,community,C08,\nC08,乙社区,community,C09,",
        "第8行：上下级形成循环：C09 → C07 → C08 → C09（第8、9、10行）",
    ),
}


@pytest.mark.parametrize(("rows", "line", "problem"), BAD_ORG.values(), ids=BAD_ORG.keys())
def test_a_bad_org_file_is_refused_by_line_and_imports_no_unit(
    app, session, tmp_path: Path, rows: str, line: str, problem: str
):
    result = load(app, tmp_path, "org", ORG + rows + "\n")
    refused_whole(result, line, problem)
    assert "第2行" not in result.output  # the good rows are not blamed
    assert count(session, OrgUnit) == 0


@pytest.mark.parametrize(("rows", "problem"), CYCLES.values(), ids=CYCLES.keys())
def test_a_cycle_of_parents_is_named_with_its_chain(app, session, tmp_path: Path, rows: str, problem: str):
    result = load(app, tmp_path, "org", ORG + rows + "\n")
    refused_whole(result, "第8行", problem)
    assert result.output.count("上下级形成循环") == 1
    assert "上级应是" not in result.output
    assert count(session, OrgUnit) == 0


def test_a_cycle_through_a_stored_unit_is_refused_and_the_tree_is_kept(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    # C01 is stored under S01; now S01 is to hang under C01.
    result = load(app, tmp_path, "org", "code,name,level,parent\nS01,和平街道,street,C01\n")
    refused_whole(result, "第2行", "上下级形成循环：S01 → C01 → S01")
    assert paths(session) == PATHS


def test_a_bad_reimport_moves_nothing(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    result = load(app, tmp_path, "org", "code,name,level,parent\nC01,幸福社区,community,S02\nC09,某社区,community,\n")
    refused_whole(result, "第3行", "社区 C09 缺少上级")
    assert paths(session) == PATHS
    assert grid_paths(session)["A01"] == "/D01/S01/C01/"
    assert count(session, OrgUnit) == 6


def test_a_community_with_grids_cannot_become_a_street(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    result = load(app, tmp_path, "org", "code,name,level,parent\nC01,幸福街道,street,D01\n")
    refused_whole(result, "第2行", "社区 C01 下有 1 个网格，不能改为街道")
    assert "import-grids 的 org 列" in result.output
    assert session.exec(select(OrgUnit.level).where(OrgUnit.code == "C01")).one() == "community"


def test_a_street_cannot_become_a_community_while_its_communities_stay_under_it(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    result = load(app, tmp_path, "org", "code,name,level,parent\nS01,和平社区,community,S02\n")
    refused_whole(result, "第2行", "S01 改为社区后，已有的下级 C01、C02（不在本文件中）")
    assert paths(session) == PATHS


def test_grids_name_their_community_and_a_file_without_the_column_keeps_it(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    assert org_code_of_grid(session, "A01") == "C01"

    without = "\n".join(line.rsplit(",", 1)[0] for line in GRIDS.splitlines()) + "\n"
    assert load(app, tmp_path, "grids", without).exit_code == 0
    assert org_code_of_grid(session, "A01") == "C01"
    assert grid_paths(session)["A01"] == "/D01/S01/C01/"

    emptied = GRIDS.replace(",C01\n", ",\n")
    assert load(app, tmp_path, "grids", emptied).exit_code == 0
    assert org_code_of_grid(session, "A01") is None
    assert grid_paths(session) == {"A01": "", "A02": "/D01/S01/C02/"}


@pytest.mark.parametrize(
    ("org", "problem"),
    [
        ("C09", "第3行：org C09 不存在，请先导入组织架构（import-org）"),
        ("S01", "第3行：org S01 是街道，不是社区"),
    ],
    ids=["an unknown unit", "a street"],
)
def test_a_grid_under_no_community_is_refused_by_line(app, session, tmp_path: Path, org: str, problem: str):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    result = load(app, tmp_path, "grids", GRIDS.replace(",C02\n", f",{org}\n"))
    refused_whole(result, "第3行", problem)
    assert count(session, Grid) == 0


def test_a_supervisor_sits_in_a_unit_and_a_file_without_the_column_keeps_it(app, session, tmp_path: Path):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    result = load(app, tmp_path, "people", PEOPLE)
    assert result.exit_code == 0, result.output
    assert org_code_of_person(session, "o-street") == "S01"
    assert org_code_of_person(session, "o-city") is None  # an empty cell: the whole database

    without = "\n".join(line.rsplit(",", 1)[0] for line in PEOPLE.splitlines()) + "\n"
    assert load(app, tmp_path, "people", without).exit_code == 0
    assert org_code_of_person(session, "o-street") == "S01"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("grid_worker,lisi,李四,A01,,,C01", "第5行：org 列只给指挥中心人员（supervisor）填所在单位"),
        ("resident,o-res,赵六,A02,,,C02", "第5行：org 列只给指挥中心人员（supervisor）填所在单位"),
        ("supervisor,o-sup,社区指挥中心,,,,C09", "第5行：org C09 不存在，请先导入组织架构（import-org）"),
    ],
    ids=["a grid worker", "a resident", "an unknown unit"],
)
def test_a_bad_org_for_a_person_is_refused_by_line(app, session, tmp_path: Path, row: str, problem: str):
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0
    result = load(app, tmp_path, "people", PEOPLE + row + "\n")
    refused_whole(result, "第5行", problem)
    assert count(session, Person) == 0


def test_a_street_names_its_own_bot_and_flask_bots_lists_the_gateways_to_run(app, session, tmp_path: Path):
    bots = {"S01": "aib-hp", "S02": "aib-hb"}
    lines = ORG.splitlines()
    with_bots = [lines[0] + ",bot_id"] + [f"{line},{bots.get(line.split(',')[0], '')}" for line in lines[1:]]
    assert load(app, tmp_path, "org", "\n".join(with_bots) + "\n").exit_code == 0
    assert dict(session.exec(select(OrgUnit.code, OrgUnit.bot_id)).all()) == {
        code: bots.get(code, "") for code in PATHS
    }

    listed = cli(app, "bots")
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == ["aib-hp\tS01", "aib-hb\tS02"]

    # A file without the column keeps the bots; a bad bot id is refused by line, and nothing changes.
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    session.expire_all()
    assert dict(session.exec(select(OrgUnit.code, OrgUnit.bot_id)).all())["S01"] == "aib-hp"
    bad = "code,name,level,parent,bot_id\nD01,上城区,district,,\nS01,和平街道,street,D01,和平 机器人\n"
    refused_whole(load(app, tmp_path, "org", bad), "第3行", "bot_id“和平 机器人”只能含英文字母、数字、- 和 _")
    session.expire_all()
    assert dict(session.exec(select(OrgUnit.code, OrgUnit.bot_id)).all())["S01"] == "aib-hp"
