"""``stockloop rules report`` in process: its help and its table (the broker test reads topics)."""

from datetime import timedelta

from rich.console import Console
from typer.testing import CliRunner

from models.alert_quality import Outcome, QualityRow
from streams.cli import app
from streams.cli.rules import ReportBy, quality_table

runner = CliRunner()


def rendered(rows: list[QualityRow], by: ReportBy = ReportBy.RULE) -> list[list[str]]:
    console = Console(width=250, record=True)
    console.print(quality_table(rows, by, "alert quality"))
    lines = console.export_text().replace("┃", "│").splitlines()
    return [[c.strip() for c in line.split("│") if c.strip()] for line in lines if "│" in line]


def test_report_help_says_what_each_outcome_means():
    result = runner.invoke(app, ["rules", "report", "--help"])
    assert result.exit_code == 0, result.output
    for words in ("acted on", "acknowledged", "resolved on its own", "ignored", "--since", "--by"):
        assert words in result.output


def test_report_table_shows_each_outcome_as_share_and_count_and_medians_for_people():
    noisy = QualityRow(
        "below_safety_stock",
        8,
        {Outcome.RESOLVED_ON_ITS_OWN: 6, Outcome.IGNORED: 2},
        None,
        None,
    )
    useful = QualityRow(
        "stockout_risk",
        4,
        {Outcome.ACTED_ON: 3, Outcome.ACKNOWLEDGED: 1},
        timedelta(minutes=45),
        timedelta(days=2, hours=4),
    )
    header, *rows = rendered([noisy, useful])
    assert header[:2] == ["rule", "alerts"]
    assert rows[0] == ["below_safety_stock", "8", "-", "-", "75% (6)", "25% (2)", "-", "-", "-"]
    assert rows[1] == ["stockout_risk", "4", "75% (3)", "25% (1)", "-", "-", "-", "45m", "2d4h"]


def test_report_table_by_receiver_names_its_first_column_so():
    unheard = QualityRow("buyer", 1, {Outcome.UNHEARD: 1}, None, None)
    header, row = rendered([unheard], ReportBy.RECEIVER)
    assert header[0] == "receiver" and row[:2] == ["buyer", "1"] and row[6] == "100% (1)"
