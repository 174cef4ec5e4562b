"""GET /rules: the rules in force, built-in pack and published overrides, as YAML or JSON."""

from pathlib import Path

import httpx
import pytest
import yaml

from models.rules.spec import builtin_rules, load_rules
from tests.integration.harness import Pipeline, wait_until

pytestmark = pytest.mark.integration


def test_rules_shows_the_builtin_pack_when_nothing_is_published(pipeline: Pipeline):
    response = httpx.get(f"{pipeline.url}/rules", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/yaml")
    assert response.headers["x-stockloop-rules"] == "builtin"
    assert load_rules(response.text) == builtin_rules()


def test_rules_shows_published_overrides_laid_over_the_builtins_as_yaml_or_json(
    pipeline: Pipeline, tmp_path: Path
):
    overrides = tmp_path / "rules.yaml"
    overrides.write_text(
        "version: 1\n"
        "rules:\n"
        "  - {id: demand_shift, enabled: false}\n"
        "  - id: low_on_hand\n"
        "    description: On hand below ten.\n"
        "    when: on_hand < 10\n"
    )
    pipeline.cli("rules", "apply", str(overrides))
    wait_until(lambda: pipeline.control_records("stockloop.rules") >= 1)

    as_yaml = httpx.get(f"{pipeline.url}/rules", timeout=10)
    assert as_yaml.headers["x-stockloop-rules"] == "builtin+published"
    in_force = load_rules(as_yaml.text)
    assert in_force == load_rules(overrides.read_text(), base=builtin_rules())
    assert not in_force.rule("demand_shift").enabled
    assert in_force.rule("stockout_risk") == builtin_rules().rule("stockout_risk")

    as_json = httpx.get(f"{pipeline.url}/rules", headers={"Accept": "application/json"}, timeout=10)
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == yaml.safe_load(as_yaml.text)
    by_query = httpx.get(f"{pipeline.url}/rules", params={"format": "json"}, timeout=10)
    assert by_query.json() == as_json.json()
