"""The README's examples stay true."""

import re

from models.rules.spec import builtin_rules, load_rules
from streams.settings import PROJECT_ROOT


def test_the_rule_file_example_in_the_readme_is_valid():
    readme = (PROJECT_ROOT / "README.md").read_text()
    example = re.search(r"```yaml\n(version: 1\n.*?)```", readme, re.S).group(1)
    rules = load_rules(example, base=builtin_rules())
    assert rules.rule("low_on_hand_fabric").for_seconds == 2 * 86_400
    assert rules.rule("dead_stock").params == {"dead_days": 120}
    assert not rules.rule("demand_shift").enabled
