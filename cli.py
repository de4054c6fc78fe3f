"""Admin commands: `flask --app app <command>`. Thin: parsing and printing; the work is in handlers/ and storage/."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from sqlmodel import Session, col, select

from bot import jobs
from bot.runtime import Runtime
from handlers import admin
from storage.db import migrate, transaction
from storage.models import Grid, Status, Ticket
from storage.tickets import STATUS_NAMES

DEMO = Path(__file__).resolve().parent / "demo"


def rt() -> Runtime:
    runtime: Runtime = current_app.extensions["wanggetong"]
    return runtime


def run_import(kind: str, path: Path) -> None:
    importer = admin.import_grids if kind == "grids" else admin.import_people
    raw = path.read_bytes()
    # Raising inside the transaction rolls it back: a file with one bad row imports nothing.
    with transaction(rt().engine) as session:
        result = importer(session, raw)
        if result.errors:
            raise click.ClickException(
                f"{path.name}：{len(result.errors)} 行有误，未导入任何数据：\n" + "\n".join(result.errors[:50])
            )
    click.echo(f"{path.name}：新增 {result.created}，更新 {result.updated}")


def register(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db() -> None:
        """Apply database migrations (safe to run again)."""
        migrate(rt().engine)
        click.echo("数据库已是最新结构")

    @app.cli.command("import-grids")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_grids(file: Path) -> None:
        """Import grids: columns code,name,community,aliases,chat_id,lat,lng (aliases separated by |)."""
        run_import("grids", file)

    @app.cli.command("import-people")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def import_people(file: Path) -> None:
        """Import people: columns role,id,name,grid,phone,address."""
        run_import("people", file)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the demo community (8 grids, workers, a supervisor, residents) unless grids exist already."""
        migrate(rt().engine)
        with Session(rt().engine) as session:
            if session.exec(select(Grid)).first() is not None:
                click.echo("已有网格数据，跳过演示数据")
                return
        run_import("grids", DEMO / "grids.csv")
        run_import("people", DEMO / "people.csv")

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

    @app.cli.command("sweep")
    def sweep() -> None:
        """Run both cron sweeps now: due reminders and escalations, then undelivered outbox rows."""
        click.echo(f"reminders and escalations queued: {jobs.sweep_tickets()}")
        click.echo(f"re-enqueued {jobs.sweep_outbox()}")
