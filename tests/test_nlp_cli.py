"""`flask --app app nlp train / eval`: a street office's labelled export in, a taxonomy and its scores out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nlp import Classifier

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
