"""`flask --app app nlp train / eval`: a street office's labelled export in, a taxonomy and its scores out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nlp import Classifier
from nlp.taxonomy import DEFAULT_TAXONOMY_PATH

PLACES = ["幸福小区", "人民路", "三号楼", "菜市场", "学校门口", "东门"]
SUBJECTS = {
    "噪声": ["广场舞太吵", "装修声音大", "狗叫一整夜"],
    "垃圾": ["垃圾桶满了", "建筑垃圾乱倒", "臭味熏人"],
    "停车": ["乱停车", "车位被占", "僵尸车没人管"],
}


def history(path: Path, encoding: str = "utf-8-sig", header: tuple[str, str] = ("留言内容", "类别")) -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow([header[0], "编号", header[1]])
        for label, subjects in SUBJECTS.items():
            for subject in subjects:
                for n, place in enumerate(PLACES):
                    writer.writerow([f"{place}{subject}", n, label])
    return path


def cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def train(app, source: Path, out: Path):
    return cli(
        app, "nlp", "train", str(source), "--text-column", "留言内容", "--label-column", "类别", "--out", str(out)
    )


def test_train_then_eval_prints_scores_and_writes_predictions(app, tmp_path: Path) -> None:
    out = tmp_path / "trained.yaml"
    result = train(app, history(tmp_path / "history.csv"), out)
    assert result.exit_code == 0, result.output
    assert "54 行" in result.stdout and "3 类" in result.stdout
    assert out.read_text(encoding="utf-8").startswith("# Trained by `flask --app app nlp train` from history.csv")
    assert {c.name for c in Classifier.from_file(out).taxonomy.categories} == {"噪声", "垃圾", "停车", "其他"}

    check = tmp_path / "check.csv"
    check.write_text("类别,留言内容\n噪声,光明街广场舞太吵\n停车,路口乱停车\n垃圾,这事说来话长\n", encoding="utf-8")
    predictions = tmp_path / "predictions.csv"
    result = cli(
        app,
        *("nlp", "eval", str(check), "--taxonomy", str(out), "--text-column", "留言内容"),
        *("--label-column", "类别", "--predictions", str(predictions)),
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores) == {"rows", "accuracy", "macro_f1", "per_class", "confusion"}
    assert scores["rows"] == 3
    assert set(scores["per_class"]["噪声"]) == {"precision", "recall", "f1", "support"}
    labels = scores["confusion"]["labels"]
    assert set(labels) >= {"噪声", "停车", "垃圾"}
    assert len(scores["confusion"]["matrix"]) == len(labels)
    assert sum(map(sum, scores["confusion"]["matrix"])) == 3
    with predictions.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["row"], r["gold"]) for r in rows] == [("1", "噪声"), ("2", "停车"), ("3", "垃圾")]
    assert rows[0]["predicted"] == "噪声" and rows[1]["predicted"] == "停车"
    # none of its words was ever seen with a label: it falls to the fallback, and is a miss
    assert rows[2]["predicted"] == "其他"
    assert scores["accuracy"] == round(2 / 3, 4)


def test_train_writes_the_reader_unless_told_not_to(app, tmp_path: Path) -> None:
    source = history(tmp_path / "history.csv")
    with_reader, without = tmp_path / "with.yaml", tmp_path / "without.yaml"
    assert train(app, source, with_reader).exit_code == 0
    result = cli(
        app,
        *("nlp", "train", str(source), "--text-column", "留言内容", "--label-column", "类别"),
        *("--out", str(without), "--no-reader"),
    )
    assert result.exit_code == 0, result.output
    assert Classifier.from_file(with_reader).taxonomy.reader is not None
    assert "reader:" not in without.read_text(encoding="utf-8")
    assert Classifier.from_file(without).taxonomy.reader is None


def test_an_excel_gbk_export_trains(app, tmp_path: Path) -> None:
    out = tmp_path / "trained.yaml"
    result = train(app, history(tmp_path / "history.csv", encoding="gbk"), out)
    assert result.exit_code == 0, result.output
    names = {c.code: c.name for c in Classifier.from_file(out).taxonomy.categories}
    assert names[Classifier.from_file(out).classify("二号楼装修声音大").category] == "噪声"


def test_a_missing_column_is_named_with_the_columns_there_are(app, tmp_path: Path) -> None:
    source = history(tmp_path / "history.csv", header=("内容", "类别"))
    result = train(app, source, tmp_path / "trained.yaml")
    assert result.exit_code == 2
    assert "没有“留言内容”列" in result.output and "内容，编号，类别" in result.output
    assert "has no column '留言内容'" in result.output
    assert not (tmp_path / "trained.yaml").exists()

    result = cli(app, "nlp", "eval", str(source), "--text-column", "内容", "--label-column", "label")
    assert result.exit_code == 2 and "label" in result.output


def test_eval_scores_a_set_of_urgent_and_tricky_messages_without_categories(app, tmp_path: Path) -> None:
    # what a city writes to check urgency in its residents' words: no category column
    check = tmp_path / "urgent.csv"
    check.write_text(
        "text,urgent\n楼道里全是烟 呛得喘不上气,true\n上回楼道着火那事 保安很快就扑灭了 想问问谁赔,false\n"
        "楼下垃圾桶满了,false\n",
        encoding="utf-8",
    )
    result = cli(app, "nlp", "eval", str(check), "--text-column", "text", "--urgent-column", "urgent")
    assert result.exit_code == 0, result.output
    urgency = json.loads(result.stdout)["urgency"]
    assert (urgency["found"], urgency["urgent_rows"], urgency["false_alarms"]) == (1, 1, 0)
    neither = cli(app, "nlp", "eval", str(check), "--text-column", "text")
    assert neither.exit_code == 2 and "--urgent-column" in neither.output


def test_danger_trains_the_learned_reader_into_a_copy_of_the_taxonomy(app, tmp_path: Path) -> None:
    examples = tmp_path / "紧急.csv"
    lines = ["内容,紧急"]
    lines += [f"{place}有人拿棍子打上了 满脸是血,是" for place in ("楼下", "门口", "车库", "楼道")]
    lines += [f"{place}垃圾桶满了没人清,否" for place in ("楼下", "门口", "车库", "楼道")]
    examples.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "taxonomy.yaml"
    result = cli(
        app, "nlp", "danger", str(examples), "--text-column", "内容", "--urgent-column", "紧急", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "8 行（紧急 4 行）" in result.stdout
    trained = Classifier.from_file(out)
    assert trained.taxonomy.danger is not None and trained.taxonomy.danger.weights
    assert trained.taxonomy.urgency.keywords == Classifier.from_file(DEFAULT_TAXONOMY_PATH).taxonomy.urgency.keywords
    refused = cli(app, "nlp", "danger", str(examples), "--text-column", "内容", "--urgent-column", "紧急")
    assert refused.exit_code == 2 and "--out" in refused.output  # never the bundled file by default


def test_eval_without_a_taxonomy_uses_ours_and_reads_category_names(app, tmp_path: Path) -> None:
    check = tmp_path / "check.csv"
    check.write_text("text,label\n楼下广场舞太吵了,噪音扰民\n小区门口垃圾桶满了没人清运,环境卫生\n", encoding="utf-8")
    result = cli(app, "nlp", "eval", str(check), "--text-column", "text", "--label-column", "label")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["accuracy"] == 1.0
    assert scores["per_class"]["噪音扰民"]["support"] == 1


def test_predictions_write_a_formula_as_text(app, tmp_path: Path) -> None:
    """The predictions file goes to Excel, and its gold column is whatever the evaluated file held."""
    check = tmp_path / "check.csv"
    check.write_text('text,label\n楼下广场舞太吵了,"=HYPERLINK(""http://evil.example"",""噪音"")"\n', encoding="utf-8")
    predictions = tmp_path / "predictions.csv"
    result = cli(
        app,
        *("nlp", "eval", str(check), "--text-column", "text", "--label-column", "label"),
        *("--predictions", str(predictions)),
    )
    assert result.exit_code == 0, result.output
    with predictions.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["row"], r["gold"]) for r in rows] == [("1", """'=HYPERLINK("http://evil.example","噪音")""")]


def board(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> Path:
    """A message-board export: id, subject line, body, category, urgent, confidence."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "text", "category", "urgent", "confidence"])
        writer.writerows(rows)
    return path


# A word the written taxonomy does not know: 嘈杂(声) is noise where this city's residents live (cut 嘈杂|声).
NOISE_WORDS = ["嗡嗡作响的嘈杂声", "嘈杂声从早到晚", "嘈杂声让人崩溃", "楼下传来嘈杂声", "嘈杂声影响孩子学习"]
PLACES_ = ["东区", "西区", "南苑", "北苑", "中心广场", "菜场", "学校边", "河边"]


def dialect_history(path: Path) -> Path:
    rows = []
    for i, place in enumerate(PLACES_):
        for j, words in enumerate(NOISE_WORDS):
            rows.append((f"n{i}-{j}", f"{place}的问题", f"{place}{words}", "noise", "false", "high"))
        rows.append((f"g{i}", "垃圾", f"{place}垃圾桶满了没人清运", "sanitation", "false", "high"))
    return board(path, rows)


def test_tune_learns_what_the_written_keywords_miss_and_cross_validation_scores_it(app, tmp_path: Path) -> None:
    written = tmp_path / "taxonomy.yaml"
    written.write_text(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    data = dialect_history(tmp_path / "board.csv")
    common = ("--title-column", "title", "--text-column", "text", "--label-column", "category")

    before = json.loads(cli(app, "nlp", "eval", str(data), "--taxonomy", str(written), *common).stdout)
    assert before["per_class"]["noise"]["recall"] < 0.5  # 嘈杂 is no keyword of ours

    result = cli(app, "nlp", "tune", str(data), "--taxonomy", str(written), *common)
    assert result.exit_code == 0, result.output
    assert "48 行" in result.stdout
    tuned = Classifier.from_file(written)
    assert "嘈杂" in tuned.taxonomy.get("noise").learned
    assert tuned.classify("又是嘈杂声").category == "noise"
    text = written.read_text(encoding="utf-8")
    assert text.count("\nlearned:") == 1 and "nlp tune` from board.csv" in text

    # tuning again replaces the section instead of adding a second one
    assert cli(app, "nlp", "tune", str(data), "--taxonomy", str(written), *common).exit_code == 0
    assert written.read_text(encoding="utf-8").count("\nlearned:") == 1

    # Scored on the rows it learned from, the tuned file is flattered, and eval says so; cross-validation tunes
    # the written keywords on the other folds only.
    flattered = cli(app, "nlp", "eval", str(data), "--taxonomy", str(written), *common)
    assert "--folds" in flattered.stderr
    crossed = cli(app, "nlp", "eval", str(data), "--taxonomy", str(written), *common, "--folds", "4")
    assert crossed.exit_code == 0, crossed.output
    scores = json.loads(crossed.stdout)
    assert scores["cross_validation"] == {"folds": 4, "tuned_on_extra_rows": 0}
    assert scores["per_class"]["noise"]["recall"] > before["per_class"]["noise"]["recall"]


def test_eval_keeps_a_fifth_aside_and_scores_groups_and_urgency(app, tmp_path: Path) -> None:
    rows = [(f"r{i}", "路灯", f"{i}号路灯不亮了", "facility", "false", "high" if i % 2 else "low") for i in range(40)]
    rows.append(("fire", "着火了", "三楼厨房着火了正在冒烟", "safety", "true", "high"))
    rows.append(("water", "家里进水", "楼上水管爆了水一直往我家流", "utility", "true", "high"))
    rows.append(("old", "危房", "这栋楼是危房好多年了", "safety", "false", "high"))
    data = board(tmp_path / "board.csv", rows)
    common = ("--title-column", "title", "--text-column", "text", "--label-column", "category", "--id-column", "id")

    def scores(*extra: str) -> dict:
        result = cli(app, "nlp", "eval", str(data), *common, *extra)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    dev, holdout = scores("--part", "dev")["rows"], scores("--part", "holdout")["rows"]
    assert dev + holdout == len(rows) and 0 < holdout < dev
    assert scores("--part", "holdout") == scores("--part", "holdout")

    everything = scores("--urgent-column", "urgent", "--confidence-column", "confidence")
    assert everything["urgency"]["urgent_rows"] == 2 and everything["urgency"]["found"] == 2
    assert everything["urgency"]["false_alarms"] == 0 and everything["urgency"]["normal_rows"] == 41
    assert {group: s["rows"] for group, s in everything["by_group"].items()} == {"high": 23, "low": 20}

    refused = cli(app, "nlp", "eval", str(data), "--text-column", "text", "--label-column", "category", "--part", "dev")
    assert refused.exit_code == 2 and "--id-column" in refused.output


def test_tune_reads_the_centres_corrections_beside_an_export(app, tmp_path: Path) -> None:
    written = tmp_path / "taxonomy.yaml"
    written.write_text(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    export = board(tmp_path / "board.csv", [("g1", "垃圾", "东区垃圾桶满了没人清运", "sanitation", "false", "high")])
    corrections = tmp_path / "改类.csv"
    with corrections.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label", "name", "ticket", "corrected_at"])  # what `nlp export-labels` writes
        for i, place in enumerate(PLACES_):
            for words in NOISE_WORDS:
                writer.writerow([f"{place}{words}", "noise", "噪音扰民", i, "2026-11-30T10:00:00+08:00"])
    result = cli(
        app,
        *("nlp", "tune", str(export), str(corrections), "--taxonomy", str(written)),
        *("--title-column", "title", "--text-column", "text", "--label-column", "category"),
    )
    assert result.exit_code == 0, result.output
    assert "按改类导出读取" in result.stderr and "41 行" in result.stdout
    assert "嘈杂" in Classifier.from_file(written).taxonomy.get("noise").learned


def test_tune_never_overwrites_the_bundled_taxonomy_unasked(app, tmp_path: Path) -> None:
    before = DEFAULT_TAXONOMY_PATH.read_bytes()
    data = dialect_history(tmp_path / "board.csv")
    result = cli(app, "nlp", "tune", str(data), "--text-column", "text", "--label-column", "category")
    assert result.exit_code == 2 and "--out" in result.output
    assert DEFAULT_TAXONOMY_PATH.read_bytes() == before

    out = tmp_path / "tuned.yaml"
    result = cli(
        app, "nlp", "tune", str(data), "--text-column", "text", "--label-column", "category", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert DEFAULT_TAXONOMY_PATH.read_bytes() == before
    assert Classifier.from_file(out).taxonomy.get("noise").learned


def test_reader_learns_where_the_written_keywords_hesitate_and_leaves_them_the_rest(app, tmp_path: Path) -> None:
    written = tmp_path / "taxonomy.yaml"
    written.write_text(
        "version: 1\ncategories:\n"
        "  - {code: noise, name: 噪音扰民, sla_hours: 24, keywords: {楼下: 1, 广场舞: 3}}\n"
        "  - {code: sanitation, name: 环境卫生, sla_hours: 48, keywords: {楼下: 1, 垃圾: 3}}\n"
        "  - {code: other, name: 其他, sla_hours: 168}\n",
        encoding="utf-8",
    )
    data = tmp_path / "history.csv"
    words = {"noise": ["闹哄哄", "吵吵嚷嚷", "叮叮当当"], "sanitation": ["臭烘烘", "脏兮兮", "黏糊糊"]}
    rows = [f"{place}楼下{word}的,{label}" for label, found in words.items() for word in found for place in PLACES]
    data.write_text("text,category\n" + "\n".join(rows) + "\n", encoding="utf-8")
    before = Classifier.from_file(written)
    # 楼下 alone is a tie the keywords break by order: everything goes to noise
    assert before.classify("人民路楼下臭烘烘的").category == "noise"

    common = ("--text-column", "text", "--label-column", "category", "--taxonomy", str(written))
    result = cli(app, "nlp", "reader", str(data), *common)
    assert result.exit_code == 0, result.output
    assert "36 行" in result.stdout
    after = Classifier.from_file(written)
    smelly = after.classify("人民路楼下臭烘烘的")
    assert smelly.category == "sanitation" and any(k.startswith("读出:") for k in smelly.keywords), smelly
    # where the keywords are sure, they decide: the reader never saw 广场舞
    assert after.classify("楼下广场舞臭烘烘的").category == "noise"
    # no keyword at all stays 其他, whatever the reader would say
    assert after.classify("门口臭烘烘的").category == "other"

    # training again replaces the section instead of adding a second one
    assert cli(app, "nlp", "reader", str(data), *common).exit_code == 0
    assert written.read_text(encoding="utf-8").count("\nreader:") == 1
    # eval warns that the reader flatters the rows it learned from
    assert "reader" in cli(app, "nlp", "eval", str(data), *common).stderr
    refused = cli(app, "nlp", "reader", str(data), "--text-column", "text", "--label-column", "category")
    assert refused.exit_code == 2 and "--out" in refused.output  # never the bundled file by default
