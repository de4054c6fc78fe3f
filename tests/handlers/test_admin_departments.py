"""`flask --app app import-departments`, and department staff in import-people: each department serves a unit and
works in its own WeCom group; bad rows are named by line and nothing is half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from storage.models import Department, OrgUnit, Person
from tests.importing import count, load, statements

ORG = """code,name,level,parent
D01,上城区,district,
D02,西湖区,district,
S01,和平街道,street,D01
C01,幸福社区,community,S01
"""
GRIDS = """code,name,community,aliases,chat_id,lat,lng,org
A01,幸福社区第1网格,幸福小区,,chat-a01,,,C01
"""
# A street's 城管中队, a district's bureau, and a utility serving everywhere (no unit); categories by code or name.
DEPARTMENTS = """code,name,org,categories,chat_id
CG-S01,和平街道城管中队,S01,违建占道｜sanitation,chat-cg
ZJ_D01,上城区住建局,D01,property,chat-zj
GD01,供电所,,Utility,chat-gd
"""
PEOPLE = """role,id,name,grid,phone,address,org
department,chenqi,陈七,,13700000003,,CG-S01
department,wechat:o-zj,住建值班,,,,ZJ_D01
supervisor,o-street,和平街道指挥中心,,,,S01
grid_worker,wangwu,王五,A01,13700000001,,
"""


def departments(session) -> dict[str, tuple[str, str | None, str, str, str]]:
    """code: (name, the code of the unit it serves, its path, categories, chat_id)."""
    query = select(Department, OrgUnit.code).join(OrgUnit, Department.org_id == OrgUnit.id, isouter=True)
    return {d.code: (d.name, unit, d.org_path, d.categories, d.chat_id) for d, unit in session.exec(query).all()}


def department_of(session, name: str) -> str | None:
    query = select(Department.code).join(Person, Person.department_id == Department.id).where(Person.name == name)
    return session.exec(query).first()


def refused_whole(result, line: str, problem: str) -> None:
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a traceback
    assert line in result.output and problem in result.output, result.output
    assert "未导入任何数据" in result.output


@pytest.fixture
def tree(app, tmp_path: Path) -> None:
    assert load(app, tmp_path, "org", ORG).exit_code == 0
    assert load(app, tmp_path, "grids", GRIDS).exit_code == 0


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"], ids=["UTF-8", "GBK from Excel"])
def test_a_departments_file_imports_with_its_units_and_categories(app, session, tree, tmp_path: Path, encoding: str):
    result = load(app, tmp_path, "departments", DEPARTMENTS, encoding)

    assert result.exit_code == 0, result.output
    assert "新增 3，更新 0" in result.output
    assert departments(session) == {
        "CG-S01": ("和平街道城管中队", "S01", "/D01/S01/", "construction|sanitation", "chat-cg"),
        "ZJ_D01": ("上城区住建局", "D01", "/D01/", "property", "chat-zj"),
        "GD01": ("供电所", None, "", "utility", "chat-gd"),
    }


def test_importing_again_updates_each_department_by_code(app, session, tree, tmp_path: Path):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0
    changed = DEPARTMENTS.replace("和平街道城管中队,S01,违建占道｜sanitation,chat-cg", "城管中队,C01,,chat-cg2")

    result = load(app, tmp_path, "departments", changed)

    assert result.exit_code == 0, result.output
    assert "新增 0，更新 3" in result.output
    assert departments(session)["CG-S01"] == ("城管中队", "C01", "/D01/S01/C01/", "", "chat-cg2")
    assert count(session, Department) == 3


# Rows after DEPARTMENTS' three good ones: line 5. (row, what the message must say)
BAD_DEPARTMENTS = {
    "an empty code": (",某部门,S01,,chat-x", "code 和 name 不能为空"),
    "an empty name": ("CG09,,S01,,chat-x", "code 和 name 不能为空"),
    "a slash in the code": ("CG/09,某部门,S01,,chat-x", "只能含英文字母、数字、- 和 _"),
    "a Chinese code": ("城管,某部门,S01,,chat-x", "只能含英文字母、数字、- 和 _"),
    "a long code": (f"{'C' * 33},某部门,S01,,chat-x", "code 最多 32"),
    "a long name": (f"CG09,{'城管中队' * 17},S01,,chat-x", "name 最多 64"),
    "a long chat_id": (f"CG09,某部门,S01,,{'c' * 129}", "chat_id 最多 128"),
    "a code twice": ("GD01,又一个供电所,S01,utility,chat-x", "部门编号 GD01 与第4行重复"),
    "an unknown unit": ("CG09,某部门,S09,,chat-x", "org S09 不存在，请先导入组织架构（import-org）"),
    "an unknown category": ("CG09,某部门,S01,noise|绿化,chat-x", "categories 中的“绿化”不是已知类别"),
    "no group": ("CG09,某城管中队,S01,,", "部门 某城管中队 没有工作群：chat_id 不能为空。请先在企业微信建群"),
    "an unquoted comma": ("CG09,某部门,S01,noise,chat-x,多余", "多出内容"),
    "a short row": ("CG09,某部门,S01", "只有 3 列"),
}


@pytest.mark.parametrize(("row", "problem"), BAD_DEPARTMENTS.values(), ids=BAD_DEPARTMENTS.keys())
def test_a_bad_departments_file_is_refused_by_line_and_imports_none(
    app, session, tree, tmp_path: Path, row: str, problem: str
):
    result = load(app, tmp_path, "departments", DEPARTMENTS + row + "\n")
    refused_whole(result, "第5行", problem)
    assert "第2行：" not in result.output  # the good rows are not blamed
    assert count(session, Department) == 0


def test_an_unknown_category_is_told_with_the_ones_to_choose_from(app, tree, tmp_path: Path):
    result = load(app, tmp_path, "departments", DEPARTMENTS + "CG09,某部门,S01,绿化,chat-x\n")
    assert "可填编号或名称" in result.output and "construction（违建占道）" in result.output, result.output


def test_a_file_without_a_column_names_it(app, session, tree, tmp_path: Path):
    without = "\n".join(line.rsplit(",", 1)[0] for line in DEPARTMENTS.splitlines()) + "\n"
    result = load(app, tmp_path, "departments", without)
    refused_whole(result, "第1行", "缺少列 chat_id")
    assert count(session, Department) == 0


def test_a_bad_reimport_keeps_what_was_stored(app, session, tree, tmp_path: Path):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0
    before = departments(session)
    result = load(app, tmp_path, "departments", DEPARTMENTS.replace(",S01,", ",C01,") + "CG09,某部门,S01,,\n")
    refused_whole(result, "第5行", "没有工作群")
    assert departments(session) == before


def test_a_department_follows_its_unit_when_import_org_moves_it(app, rt, session, tree, tmp_path: Path):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0
    with statements(rt.engine) as sent:
        result = load(app, tmp_path, "org", "code,name,level,parent\nS01,和平街道,street,D02\n")

    assert result.exit_code == 0, result.output
    moved = departments(session)
    assert moved["CG-S01"][2] == "/D02/S01/"
    assert moved["ZJ_D01"][2] == "/D01/"  # the district stays where it was
    assert moved["GD01"][2] == ""
    assert len([s for s in sent if s.startswith("UPDATE department")]) == 1


def test_department_staff_belong_to_their_department_on_wecom(app, session, tree, tmp_path: Path):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0

    result = load(app, tmp_path, "people", PEOPLE)

    assert result.exit_code == 0, result.output
    assert "新增 4，更新 0" in result.output
    assert department_of(session, "陈七") == "CG-S01" and department_of(session, "住建值班") == "ZJ_D01"
    staff = session.exec(select(Person).where(Person.wecom_userid == "chenqi")).one()  # a bare id: WeCom
    assert (staff.role, staff.org_id, staff.grid_id, staff.phone) == ("department", None, None, "13700000003")
    assert session.exec(select(Person.role).where(Person.openid == "o-zj")).one() == "department"

    # Moved to another department, then made a supervisor: nothing of the old role stays.
    assert load(app, tmp_path, "people", PEOPLE.replace("陈七,,13700000003,,CG-S01", "陈七,,,,GD01")).exit_code == 0
    assert department_of(session, "陈七") == "GD01"
    promoted = PEOPLE.replace("department,chenqi,陈七,,13700000003,,CG-S01", "supervisor,wecom:chenqi,陈七,,,,S01")
    assert load(app, tmp_path, "people", promoted).exit_code == 0
    assert department_of(session, "陈七") is None
    unit = select(OrgUnit.code).join(Person, Person.org_id == OrgUnit.id).where(Person.wecom_userid == "chenqi")
    assert session.exec(unit).one() == "S01"


# Rows after PEOPLE's four good ones: line 6. (row, what the message must say)
BAD_STAFF = {
    "no department": ("department,zhaoba,赵八,,,,", "部门人员必须在 org 列填写所属部门编号"),
    "an unknown department": ("department,zhaoba,赵八,,,,CG99", "部门 CG99 不存在，请先导入部门（import-departments）"),
    "a unit instead of a department": ("department,zhaoba,赵八,,,,S01", "部门 S01 不存在"),
    "a grid as well": ("department,zhaoba,赵八,A01,,,CG-S01", "部门人员不属于网格，grid 请留空"),
    "a supervisor naming a department": (
        "supervisor,o-sup,某指挥中心,,,,CG-S01",
        "org CG-S01 是部门，不是单位。部门人员的 role 请填 department",
    ),
    "a grid worker naming a department": (
        "grid_worker,lisi,李四,A01,,,CG-S01",
        "org 列只给指挥中心人员（supervisor）填所在单位、部门人员（department）填所属部门",
    ),
    "a misspelt role": (
        "departments,zhaoba,赵八,,,,CG-S01",
        "role 应为 resident、grid_worker、supervisor 或 department",
    ),
    "a staff member twice": ("department,wecom:chenqi,陈七,,,,ZJ_D01", "与第2行是同一人"),
}


@pytest.mark.parametrize(("row", "problem"), BAD_STAFF.values(), ids=BAD_STAFF.keys())
def test_bad_department_staff_are_refused_by_line_and_nobody_is_imported(
    app, session, tree, tmp_path: Path, row: str, problem: str
):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0
    result = load(app, tmp_path, "people", PEOPLE + row + "\n")
    refused_whole(result, "第6行", problem)
    assert "第2行：" not in result.output
    assert count(session, Person) == 0


def test_department_staff_in_a_file_without_the_org_column_are_refused(app, session, tree, tmp_path: Path):
    assert load(app, tmp_path, "departments", DEPARTMENTS).exit_code == 0
    result = load(app, tmp_path, "people", "role,id,name,grid,phone,address\ndepartment,chenqi,陈七,,,\n")
    refused_whole(result, "第2行", "部门人员必须在 org 列填写所属部门编号")
    assert count(session, Person) == 0


def test_department_staff_need_their_departments_imported_first(app, session, tree, tmp_path: Path):
    result = load(app, tmp_path, "people", PEOPLE)
    refused_whole(result, "第2行", "部门 CG-S01 不存在，请先导入部门（import-departments）")
    assert "第3行" in result.output
    assert count(session, Person) == 0
