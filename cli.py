"""Admin commands: `flask --app app <command>`. Thin: parsing and printing; the work is in handlers/ and storage/."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from sqlmodel import Session, col, select

import api
from bot import jobs
from bot.runtime import Runtime
from handlers import admin, centre, moves
from nlp import Classifier, danger, tune
from nlp import reader as category_reader
from nlp.evaluate import Labelled, evaluate, held_out, subset, truthy, urgency_scores
from nlp.learn import STATISTICS, Options, learn
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, replace_section
from storage import org
from storage.db import migrate, transaction
from storage.models import Grid, Status, Ticket
from storage.tickets import STATUS_NAMES

DEMO = Path(__file__).resolve().parent / "demo"
LIFECYCLE_PAGE = Path(__file__).resolve().parent / "docs" / "lifecycle.md"
API_DOCUMENT = Path(__file__).resolve().parent / "docs" / "openapi.json"


def rt() -> Runtime:
    runtime: Runtime = current_app.extensions["wanggetong"]
    return runtime


IMPORTERS: dict[str, Callable[[Session, bytes], admin.ImportResult]] = {
    "org": admin.import_org,
    "grids": admin.import_grids,
    "departments": admin.import_departments,
    "people": admin.import_people,
}


def run_import(kind: str, path: Path) -> None:
    importer = IMPORTERS[kind]
    raw = path.read_bytes()
    # Raising inside the transaction rolls it back: a file with one bad row imports nothing.
    with transaction(rt().engine) as session:
        result = importer(session, raw)
        if result.errors:
            raise click.ClickException(
                f"{path.name}：{len(result.errors)} 行有误，未导入任何数据：\n" + "\n".join(result.errors[:50])
            )
    click.echo(f"{path.name}：新增 {result.created}，更新 {result.updated}")


def read_columns(path: Path, wanted: dict[str, str | None]) -> list[tuple[int, dict[str, str]]]:
    """(1-based data row, option -> value) of a CSV saved by Excel (GBK) or anything else (UTF-8, with or without
    BOM), for the columns the options name; an option given None is left out."""
    try:
        reader = csv.DictReader(io.StringIO(admin.decode(path.read_bytes())))
    except admin.UnreadableFile as unreadable:
        raise click.UsageError(f"{path.name} {unreadable}") from None
    header = [name.strip() for name in reader.fieldnames or []]
    columns: dict[str, str] = {}
    for option, name in wanted.items():
        if name is None:
            continue
        found = [h for h in header if h == name.strip()] or [h for h in header if h.lower() == name.strip().lower()]
        if not found:
            raise click.UsageError(
                f"{path.name} 没有“{name}”列（{option}）；文件中的列：{'，'.join(header) or '无'}。"
                f" / {path.name} has no column {name!r} ({option}); its columns: {', '.join(header) or 'none'}."
            )
        columns[option] = found[0]
    reader.fieldnames = header
    return [
        (number, {option: (row.get(column) or "").strip() for option, column in columns.items()})
        for number, row in enumerate(reader, start=1)
    ]


def read_header(path: Path) -> list[str]:
    """The column names of a CSV, as read_columns matches them."""
    try:
        first = next(csv.reader(io.StringIO(admin.decode(path.read_bytes()))), [])
    except admin.UnreadableFile as unreadable:
        raise click.UsageError(f"{path.name} {unreadable}") from None
    return [name.strip() for name in first]


def message(values: dict[str, str]) -> str:
    """The text to classify: a title (the board's subject line) and the body, read as one message."""
    title, text = values.get("--title-column", ""), values.get("--text-column", "")
    return f"{title}。{text}" if title and text else title or text


def read_labelled(path: Path, text_column: str, label_column: str, title_column: str | None = None) -> list[Labelled]:
    """(1-based data row, text, label) of a labelled CSV; with a title column, title and text are one message."""
    rows = read_columns(
        path, {"--text-column": text_column, "--label-column": label_column, "--title-column": title_column}
    )
    return [(number, message(values), values["--label-column"]) for number, values in rows]


def read_training(path: Path, text_column: str, label_column: str, title_column: str | None) -> list[tuple[str, str]]:
    """(text, label) rows to learn from. A file without the title column is read by its text alone; a file without
    the named columns that has `text` and `label` (the centre's 改类 from `nlp export-labels`) is read by those."""
    header = read_header(path)
    if (text_column not in header or label_column not in header) and {"text", "label"} <= set(header):
        click.echo(f"{path.name}：按改类导出读取（text、label 列）", err=True)
        text_column, label_column, title_column = "text", "label", None
    title = title_column if title_column is not None and title_column in header else None
    return [(text, label) for _, text, label in read_labelled(path, text_column, label_column, title) if text and label]


TEXT_OPTIONS = (
    click.option("--text-column", required=True, help="column holding the message text"),
    click.option("--title-column", help="column holding a subject line, read before the text as one message"),
    click.option("--label-column", required=True, help="column holding its category (code or name)"),
)


def text_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(TEXT_OPTIONS):
        command = option(command)
    return command


# The commands that rewrite one section of a taxonomy file (tune, danger, reader): the CSVs to learn from, and which
# file to start from and write.
FILES = click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
SECTION_OPTIONS = (
    click.option("--taxonomy", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="default: ours"),
    click.option(
        "--out", type=click.Path(dir_okay=False, path_type=Path), help="file to write (default: --taxonomy's own)"
    ),
)


def section_options(command: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(SECTION_OPTIONS):
        command = option(command)
    return command


def write_section(source: Path, target: Path, section: str, key: str) -> None:
    """Write source's text with its `key:` section replaced (`learned:`, which must stay last, by nlp tune's own
    rule) to target, which must then load."""
    text = source.read_text(encoding="utf-8")
    replaced = tune.replace_learned(text, section) if key == "learned" else replace_section(text, section, key)
    target.write_text(replaced, encoding="utf-8")
    Taxonomy.from_file(target)


def source_and_target(taxonomy: Path | None, out: Path | None) -> tuple[Path, Path]:
    """The taxonomy file to start from and the one to write: never the bundled file unless it is named."""
    if taxonomy is None and out is None:
        raise click.UsageError("请用 --out 指定写到哪个文件（或用 --taxonomy 指定要改的文件）")
    source = taxonomy or DEFAULT_TAXONOMY_PATH
    return source, out or source


def register_nlp(app: Flask) -> None:
    @app.cli.group("nlp")
    def nlp_group() -> None:
        """Learn a taxonomy from labelled history and measure how well a taxonomy classifies."""

    @nlp_group.command("train")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @text_options
    @click.option(
        "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="taxonomy YAML to write"
    )
    @click.option("--statistic", type=click.Choice(STATISTICS), default="logodds", show_default=True)
    @click.option("--keywords", default=300, show_default=True, help="keywords kept per label")
    @click.option(
        "--reader/--no-reader",
        default=True,
        show_default=True,
        help="also learn the reader of characters and words that picks the category (docs/learning.md)",
    )
    def train(
        file: Path,
        text_column: str,
        title_column: str | None,
        label_column: str,
        out: Path,
        statistic: str,
        keywords: int,
        reader: bool,
    ) -> None:
        """Build a taxonomy (weighted keywords per label) from a labelled CSV; see docs/learning.md."""
        examples = read_labelled(file, text_column, label_column, title_column)
        usable = [(text, label) for _, text, label in examples if text and label]
        if len(usable) < len(examples):
            click.echo(f"跳过 {len(examples) - len(usable)} 行：内容或类别为空", err=True)
        try:
            learned = learn(
                usable,
                Taxonomy.from_file(DEFAULT_TAXONOMY_PATH),
                Options(statistic=statistic, keywords=keywords, reader=reader),
            )
        except ValueError as problem:
            raise click.ClickException(f"{file.name}：无法训练（{problem}）") from problem
        out.write_text(learned.to_yaml(file.name, datetime.now(UTC)), encoding="utf-8")
        Taxonomy.from_file(out)  # what was written must load: fail here, not when the app starts
        learned_labels = sum(1 for label in learned.labels if label.rows)
        click.echo(f"已从 {file.name} 的 {learned.rows} 行学到 {learned_labels} 类（另有“其他”兜底），写入 {out}")
        for label in learned.labels:
            top = " ".join(list(label.keywords)[:8])
            click.echo(f"  {label.name}（{label.code}，{label.rows} 行）：{top}")
        click.echo(f"检查效果：flask --app app nlp eval 另一份.csv --taxonomy {out} ...")

    @nlp_group.command("tune")
    @FILES
    @text_options
    @section_options
    def tune_command(
        files: tuple[Path, ...],
        text_column: str,
        title_column: str | None,
        label_column: str,
        taxonomy: Path | None,
        out: Path | None,
    ) -> None:
        """Fit the learned weights of a written taxonomy on labelled CSVs (its `learned:` section); docs/learning.md.

        A file without the title column is read by its text alone, so a work-order export and the centre's 改类
        export (`nlp export-labels`) can be tuned on together.
        """
        source, target = source_and_target(taxonomy, out)
        examples: list[tuple[str, str]] = []
        for file in files:
            examples += read_training(file, text_column, label_column, title_column)
        written = Taxonomy.from_file(source)
        to_code = tune.code_of(written)
        unknown = Counter(label for _, label in examples if to_code(label) is None)
        if unknown:
            names = "，".join(list(unknown)[:10])
            click.echo(
                f"跳过 {sum(unknown.values())} 行：类别不在分类表中（{names}）；改成分类表里的类别名称或代码即可用上。",
                err=True,
            )
        options = tune.DEFAULTS
        try:
            tuned = tune.tune(examples, written, options)
        except ValueError as problem:
            raise click.ClickException(f"无法调整（{problem}）") from problem
        used = sum(1 for _, label in examples if to_code(label) is not None)
        names = ", ".join(f.name for f in files)
        section = tune.learned_section(tuned, names, used, options, datetime.now(UTC))
        write_section(source, target, section, "learned")
        click.echo(f"已用 {used} 行调整 {source.name} 的学习权重，写入 {target}")
        for category in tuned.categories:
            if category.learned:
                top = " ".join(list(category.learned)[:8])
                click.echo(f"  {category.name}（{len(category.learned)} 个）：{top}")
        click.echo(f"检查效果（交叉验证）：flask --app app nlp eval 数据.csv --taxonomy {target} --folds 5 ...")

    @nlp_group.command("danger")
    @FILES
    @TEXT_OPTIONS[0]
    @TEXT_OPTIONS[1]
    @click.option("--urgent-column", required=True, help="column saying whether the message is urgent (true/1/是)")
    @section_options
    @click.option("--keep", default=6000, show_default=True, help="weights kept (the strongest)")
    def danger_command(
        files: tuple[Path, ...],
        text_column: str,
        title_column: str | None,
        urgent_column: str,
        taxonomy: Path | None,
        out: Path | None,
        keep: int,
    ) -> None:
        """Train the learned second reader of danger on CSVs of urgent and normal messages (the taxonomy file's
        `danger:` section); docs/learning.md."""
        source, target = source_and_target(taxonomy, out)
        reader = Classifier(Taxonomy.from_file(source))
        wanted = {"--text-column": text_column, "--title-column": title_column, "--urgent-column": urgent_column}
        rows = [
            (reader.prepare(message(values)), truthy(values["--urgent-column"]))
            for file in files
            for _, values in read_columns(file, wanted)
        ]
        try:
            model = danger.keep_strongest(danger.train(rows), keep)
        except ValueError as problem:
            raise click.ClickException(f"无法训练（{problem}）") from problem
        urgent = sum(u for _, u in rows)
        names = ", ".join(f.name for f in files)
        section = danger.section(model, names, len(rows), urgent, datetime.now(UTC))
        write_section(source, target, section, "danger")
        click.echo(f"已用 {len(rows)} 行（紧急 {urgent} 行）训练，留下 {len(model.weights)} 个字对，写入 {target}")
        check = f"flask --app app nlp eval 紧急.csv --taxonomy {target} --text-column 内容 --urgent-column 紧急"
        click.echo(f"检查效果：{check}")

    @nlp_group.command("reader")
    @FILES
    @text_options
    @section_options
    @click.option(
        "--below",
        type=click.FloatRange(0, 1, min_open=True),
        default=0.45,
        show_default=True,
        help="the keywords' confidence under which the reader picks the category",
    )
    @click.option(
        "--among",
        type=click.FloatRange(0, 1),
        default=0.6,
        show_default=True,
        help="the reader picks among the categories whose keywords score at least this share of the top one's",
    )
    @click.option("--keep", default=6000, show_default=True, help="weights kept (the strongest)")
    def reader_command(
        files: tuple[Path, ...],
        text_column: str,
        title_column: str | None,
        label_column: str,
        taxonomy: Path | None,
        out: Path | None,
        below: float,
        among: float,
        keep: int,
    ) -> None:
        """Train the learned reader of categories beside a written taxonomy on labelled CSVs (its `reader:` section):
        where the keywords are unsure of a message, it picks the category; docs/learning.md."""
        source, target = source_and_target(taxonomy, out)
        written = Taxonomy.from_file(source)
        cutter = Classifier(written)
        to_code = tune.code_of(written)
        examples = [
            (category_reader.features(cutter.prepare(text), cutter.tokenize(text)), code)
            for file in files
            for text, label in read_training(file, text_column, label_column, title_column)
            if (code := to_code(label)) is not None
        ]
        try:
            model = category_reader.train(examples, [c.code for c in written.categories], min_count=2)
        except ValueError as problem:
            raise click.ClickException(f"无法训练（{problem}）") from problem
        model = dataclasses.replace(category_reader.keep_strongest(model, keep), below=below, among=among)
        names = ", ".join(f.name for f in files)
        section = category_reader.section(model, names, len(examples), datetime.now(UTC))
        write_section(source, target, section, "reader")
        kept = sum(len(table) for table in model.weights)
        click.echo(f"已用 {len(examples)} 行训练，留下 {kept} 个权重，写入 {target}")
        click.echo(f"检查效果：flask --app app nlp eval 另一份.csv --taxonomy {target} ...")

    @nlp_group.command("eval")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--taxonomy", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="default: ours")
    @TEXT_OPTIONS[0]
    @TEXT_OPTIONS[1]
    @click.option("--label-column", help="column holding its category (code or name); without it, urgency only")
    @click.option("--urgent-column", help="column saying whether the message is urgent (true/1/是), to score urgency")
    @click.option("--confidence-column", help="column grouping the rows (e.g. high/low): scores per group too")
    @click.option("--id-column", help="column with a stable row id; needed by --part")
    @click.option(
        "--part",
        type=click.Choice(["all", "dev", "holdout"]),
        default="all",
        show_default=True,
        help="holdout: the fifth of rows set aside by a hash of their id; dev: the rest (tune on these only)",
    )
    @click.option(
        "--folds", default=0, show_default=True, help="k-fold cross-validation of the learned weights (0: none)"
    )
    @click.option(
        "--tune-extra",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="more labelled rows every fold is tuned on (same column names; never scored)",
    )
    @click.option(
        "--predictions", type=click.Path(dir_okay=False, path_type=Path), help="also write row,gold,predicted here"
    )
    def evaluate_command(
        file: Path,
        taxonomy: Path | None,
        text_column: str,
        title_column: str | None,
        label_column: str | None,
        urgent_column: str | None,
        confidence_column: str | None,
        id_column: str | None,
        part: str,
        folds: int,
        tune_extra: tuple[Path, ...],
        predictions: Path | None,
    ) -> None:
        """Classify a labelled CSV and print accuracy, macro-F1, per-label scores and the confusion matrix as JSON.

        With a learned section in the taxonomy, scores on the rows it was tuned on flatter it: use --folds.
        """
        if part != "all" and not id_column:
            raise click.UsageError("--part 需要 --id-column / --part needs --id-column")
        if not label_column:
            if not urgent_column:
                raise click.UsageError("请给 --label-column 或 --urgent-column / give one of them")
            if folds or tune_extra or predictions or confidence_column:
                raise click.UsageError("只评紧急时不能用 --folds、--tune-extra、--predictions、--confidence-column")
        wanted = {
            "--text-column": text_column,
            "--title-column": title_column,
            "--label-column": label_column,
            "--urgent-column": urgent_column,
            "--confidence-column": confidence_column,
            "--id-column": id_column,
        }
        rows = read_columns(file, wanted)
        if part != "all":
            rows = [(n, v) for n, v in rows if held_out(v["--id-column"]) == (part == "holdout")]
        written = Taxonomy.from_file(taxonomy or DEFAULT_TAXONOMY_PATH)
        classifier = Classifier(written)
        if not label_column:  # urgency only: a set of urgent and tricky normal messages, no categories
            gold = [truthy(v["--urgent-column"]) for _, v in rows]
            said = [classifier.classify(message(v)).urgent for _, v in rows]
            output = {"rows": len(rows), "urgency": urgency_scores([n for n, _ in rows], gold, said)}
            click.echo(json.dumps(output, ensure_ascii=False, indent=2))
            return
        labelled = [(n, v) for n, v in rows if v["--label-column"]]
        if len(labelled) < len(rows):
            click.echo(f"跳过 {len(rows) - len(labelled)} 行：类别为空", err=True)
        if not labelled:
            raise click.ClickException(f"{file.name}：没有带类别的行")
        examples = [(n, message(v), v["--label-column"]) for n, v in labelled]
        if folds == 1 or folds < 0:
            raise click.UsageError("--folds 至少为 2（0 表示不做交叉验证）")
        if folds:
            extra = [row for path in tune_extra for row in read_training(path, text_column, label_column, title_column)]
            categories = tune.cross_validate([(t, lab) for _, t, lab in examples], written, folds, extra)
        else:
            if any(c.learned for c in written.categories):
                click.echo("注意：分类表含学习所得权重，在训练过的数据上评估会偏高；请用 --folds 5。", err=True)
            categories = None
        if written.reader is not None:
            click.echo(
                "注意：分类表含学习所得的分类读者（reader:）；它若学过这份数据，分数会偏高（--folds 只重调关键词权重，"
                "不重训它）。请用它没学过的数据评估，如 --part holdout 留出的五分之一或下个月的导出。",
                err=True,
            )
        result, scored = evaluate(classifier, examples, categories)
        known = {c.code for c in written.categories} | {c.name for c in written.categories}
        unknown = sorted({label for _, _, label in examples if label not in known})
        if unknown:
            click.echo(f"这些类别不在分类表中，总算错：{'，'.join(unknown[:20])}", err=True)
        if predictions is not None:
            with predictions.open("w", encoding="utf-8-sig", newline="") as f:
                writer = admin.SafeCSVWriter(f)  # a gold label comes from the user's file, and the file goes to Excel
                writer.writerow(["row", "gold", "predicted"])
                writer.writerows([r.row, r.gold, r.predicted] for r in scored)
        output = result.as_dict()
        if folds:
            output["cross_validation"] = {"folds": folds, "tuned_on_extra_rows": len(extra)}
        if confidence_column:
            output["by_group"] = {
                group: subset(scored, [v["--confidence-column"] == group for _, v in labelled]).as_dict()
                for group in sorted({v["--confidence-column"] for _, v in labelled})
            }
        if urgent_column:
            gold_urgent = [truthy(v["--urgent-column"]) for _, v in labelled]
            output["urgency"] = urgency_scores(
                [n for n, _ in labelled], gold_urgent, [classifier.classify(t).urgent for _, t, _ in examples]
            )
        click.echo(json.dumps(output, ensure_ascii=False, indent=2))

    @nlp_group.command("export-labels")
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    def export_labels(out: Path) -> None:
        """Write the centre's 改类 corrections as text,label,name,ticket,corrected_at, ready for `nlp train`."""
        with Session(rt().engine) as session:
            text = admin.export_corrections(session)
        out.write_text(text, encoding="utf-8-sig")
        count = len(list(csv.reader(io.StringIO(text)))) - 1
        click.echo(f"已导出 {count} 条改正到 {out}（训练时用 --text-column text --label-column label）")


def register(app: Flask) -> None:
    register_nlp(app)

    @app.cli.command("init-db")
    def init_db() -> None:
        """Apply database migrations (safe to run again)."""
        migrate(rt().engine)
        click.echo("数据库已是最新结构")

    @app.cli.command("import-org")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_org(file: Path) -> None:
        """Import the organisation tree: columns code,name,level,parent[,chat_id] (level: district|street|community,
        or 区|街道|社区; parent empty for a district)."""
        run_import("org", file)

    @app.cli.command("import-grids")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_grids(file: Path) -> None:
        """Import grids: columns code,name,community,aliases,chat_id,lat,lng[,org] (aliases separated by |; org: the
        community's code from import-org)."""
        run_import("grids", file)

    @app.cli.command("import-departments")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_departments(file: Path) -> None:
        """Import departments: columns code,name,org,categories,chat_id (org: the code of the unit it serves;
        categories: category codes or names separated by |; chat_id: its WeCom group, required)."""
        run_import("departments", file)

    @app.cli.command("import-people")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_people(file: Path) -> None:
        """Import people: columns role,id,name,grid,phone,address[,org] (role: resident|grid_worker|supervisor|
        department; org: a supervisor's unit code, or a department staff member's department code)."""
        run_import("people", file)

    @app.cli.command("seed-demo")
    @click.option(
        "--from",
        "source",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=DEMO,
        help="A directory with org.csv, grids.csv, departments.csv and people.csv (default: demo/).",
    )
    def seed_demo(source: Path) -> None:
        """Load the demo district (a district, 2 streets, 4 communities, 16 grids, 3 departments, their people and
        centres) unless grids exist already."""
        migrate(rt().engine)
        with Session(rt().engine) as session:
            if session.exec(select(Grid)).first() is not None:
                click.echo("已有网格数据，跳过演示数据")
                return
        for kind in ("org", "grids", "departments", "people"):
            run_import(kind, source / f"{kind}.csv")

    @app.cli.command("add-user")
    @click.argument("username")
    @click.option("--org", "org_code", default="", help="The unit whose centre it signs in to (empty: everything).")
    @click.option("--name", default="", help="The name the screen shows (default: the unit's centre).")
    def add_user(username: str, org_code: str, name: str) -> None:
        """A sign-in for the command centre's screen (/centre/); the password is read from standard input (asked
        twice, unseen, at a terminal). An existing username gets the new password and unit."""
        if sys.stdin.isatty():
            password = str(click.prompt("密码", hide_input=True, confirmation_prompt="再输一次"))
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        with transaction(rt().engine) as session:
            added = centre.add_account(session, username, password, org_code, name)
            if isinstance(added, str):
                raise click.ClickException(added)
            verb = "已开通" if added.created else "已更新"
        click.echo(f"{verb}指挥中心大屏账号 {username}：{org_code or '全部单位'}。登录地址 /centre/login")

    @app.cli.command("bots")
    def list_bots() -> None:
        """The AI bots a gateway must run for, one line each: the bot id, then the units whose groups it speaks in
        ("default" for the default bot, WECOM_BOT_ID, which speaks everywhere else)."""
        with Session(rt().engine) as session:
            named = org.named_bots(session)
        default = rt().settings.wecom_bot_id
        if default and default not in named:
            click.echo(f"{default}\tdefault")
        for bot, units in named.items():
            click.echo(f"{bot}\t{' '.join(units)}")

    @app.cli.command("tickets")
    @click.option("--limit", default=20, show_default=True)
    def list_tickets(limit: int) -> None:
        """List the newest tickets."""
        with Session(rt().engine) as session:
            grids = {g.id: g.code for g in session.exec(select(Grid)).all()}
            rows = session.exec(select(Ticket).order_by(col(Ticket.id).desc()).limit(limit)).all()
        for t in rows:
            click.echo(
                f"{t.id}\t{STATUS_NAMES.get(Status(t.status), t.status)}\t{t.category}\t{grids.get(t.grid_id, '-')}\t"
                f"{'紧急' if t.urgent else ''}\t{t.text[:40]}"
            )

    @app.cli.command("lifecycle-doc")
    @click.option("--check", is_flag=True, help="Only say whether docs/lifecycle.md is current (exit 1 if not).")
    def lifecycle_doc(check: bool) -> None:
        """Write the table of moves (handlers/moves.py) into docs/lifecycle.md."""
        current = LIFECYCLE_PAGE.read_text(encoding="utf-8")
        fresh = moves.page(current)
        if check:
            raise SystemExit(0 if fresh == current else 1)
        LIFECYCLE_PAGE.write_text(fresh, encoding="utf-8")
        click.echo(f"{LIFECYCLE_PAGE}: {len(moves.MOVES)} moves")

    @app.cli.command("api-doc")
    @click.option("--check", is_flag=True, help="Only say whether docs/openapi.json is current (exit 1 if not).")
    def api_doc(check: bool) -> None:
        """Publish the resident API's OpenAPI document (api/openapi.yaml) as docs/openapi.json."""
        fresh = api.document()
        if check:
            current = API_DOCUMENT.read_text(encoding="utf-8") if API_DOCUMENT.exists() else ""
            raise SystemExit(0 if fresh == current else 1)
        API_DOCUMENT.write_text(fresh, encoding="utf-8")
        click.echo(f"{API_DOCUMENT}: {len(api.spec()['paths'])} paths")

    @app.cli.command("sweep")
    def sweep() -> None:
        """Run both cron sweeps now: due reminders and escalations, then undelivered outbox rows."""
        click.echo(f"reminders and escalations queued: {jobs.sweep_tickets()}")
        click.echo(f"re-enqueued {jobs.sweep_outbox()}")
        click.echo(f"abandoned photos deleted: {jobs.sweep_photos()}")
