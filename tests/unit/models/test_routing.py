"""The routing file: Alertmanager's route tree over an item's labels, and its one-line refusals."""

from datetime import timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.alerts import Severity
from models.notifications import Channel, Destination, Person, RouteMatch
from models.routing import (
    LABELS,
    SEVERITIES,
    Matcher,
    Route,
    RoutingError,
    RoutingFile,
    default_routing,
    format_duration,
    load_routing,
    match,
)
from models.rules.spec import parse_duration

PEOPLE = """
people:
  li: {channels: {email: li@example.com}, escalate_to: wang}
  wang: {channels: {sms: "+8613800000000"}}
  anna: {channels: [{channel: slack, address: buyers-slack}]}
  ops: {channels: {webhook: inventory-webhook}}
groups:
  buyers: [li, anna]
  leads: [wang]
"""


def routing(route: str) -> RoutingFile:
    return load_routing(PEOPLE + route, "routes.yaml")


def routes(file: RoutingFile, **labels: str) -> list[str]:
    return [found.route for found in match(file, labels)]


def recipients(file: RoutingFile, **labels: str) -> list[tuple[str, ...]]:
    return [found.recipients for found in match(file, labels)]


SIBLINGS = """
route:
  receivers: [ops]
  routes:
    - {name: stockouts, matchers: ['rule_id=~"stockout_.*"'], receivers: [buyers]}
    - {name: critical, matchers: ['severity="critical"'], receivers: [leads]}
"""


def test_the_first_matching_child_wins():
    file = routing(SIBLINGS)
    assert routes(file, rule_id="stockout_risk", severity="critical") == ["root/stockouts"]
    assert routes(file, rule_id="dead_stock", severity="critical") == ["root/critical"]


def test_a_child_that_continues_lets_the_next_children_match_too():
    file = routing(SIBLINGS.replace("receivers: [buyers]}", "receivers: [buyers], continue: true}"))
    assert routes(file, rule_id="stockout_risk", severity="critical") == [
        "root/stockouts",
        "root/critical",
    ]
    assert recipients(file, rule_id="stockout_risk", severity="critical") == [
        ("li", "anna"),
        ("wang",),
    ]


def test_an_item_no_child_takes_is_matched_by_the_parent():
    file = routing(SIBLINGS)
    assert routes(file, rule_id="dead_stock", severity="info") == ["root"]
    assert recipients(file) == [("ops",)]


NESTED = """
route:
  receivers: [ops]
  group_by: [material_id]
  group_wait: 10s
  group_interval: 2m
  repeat_interval: 6h
  digest: true
  routes:
    - name: alerts
      matchers: ['event="alert"']
      receivers: [buyers]
      escalate_after: 30m
      routes:
        - {name: critical, matchers: ['severity="critical"'], group_wait: 0s, digest: false}
        - {name: quiet, matchers: ['severity="info"'], escalate_after: null}
"""


def test_the_deepest_matching_route_is_the_match_with_its_path():
    file = routing(NESTED)
    assert routes(file, event="alert", severity="critical") == ["root/alerts/critical"]
    assert routes(file, event="alert", severity="warning") == ["root/alerts"]
    assert routes(file, event="review", severity="critical") == ["root"]


def test_a_child_inherits_what_it_does_not_give_and_keeps_what_it_gives():
    (critical,) = match(routing(NESTED), {"event": "alert", "severity": "critical"})
    assert critical == RouteMatch(
        route="root/alerts/critical",
        recipients=("li", "anna"),
        group_by=("material_id",),
        group_wait=timedelta(0),
        group_interval=timedelta(minutes=2),
        repeat_interval=timedelta(hours=6),
        digest=False,
        escalate_after=timedelta(minutes=30),
    )


def test_escalate_after_null_switches_an_inherited_escalation_off():
    (quiet,) = match(routing(NESTED), {"event": "alert", "severity": "info"})
    assert quiet.route == "root/alerts/quiet"
    assert quiet.escalate_after is None
    assert quiet.digest is True


def test_a_root_that_gives_no_settings_has_route_match_defaults():
    (found,) = match(routing("route: {receivers: [ops]}"), {})
    assert found == RouteMatch(route="root", recipients=("ops",))


settings = st.fixed_dictionaries(
    {},
    optional={
        "receivers": st.lists(
            st.sampled_from(["li", "wang", "anna", "buyers", "leads"]), min_size=1
        ).map(tuple),
        "group_by": st.lists(st.sampled_from(LABELS), unique=True).map(tuple),
        "group_wait": st.integers(0, 10**6).map(lambda s: timedelta(seconds=s)),
        "group_interval": st.integers(1, 10**6).map(lambda s: timedelta(seconds=s)),
        "repeat_interval": st.integers(1, 10**6).map(lambda s: timedelta(seconds=s)),
        "digest": st.booleans(),
        "escalate_after": st.none() | st.integers(1, 10**6).map(lambda s: timedelta(seconds=s)),
    },
)


@given(parent=settings)
def test_a_child_route_with_no_settings_inherits_its_parents(parent: dict[str, object]):
    file = load_routing(PEOPLE + "route: {receivers: [ops]}", "p.yaml").model_copy(
        update={
            "route": Route(
                receivers=("ops",),
                routes=(
                    Route(
                        name="parent",
                        matchers=('event="alert"',),
                        **parent,
                        routes=(Route(name="child", matchers=('severity="critical"',)),),
                    ),
                ),
            )
        }
    )
    (child,) = match(file, {"event": "alert", "severity": "critical", "owner": "li"})
    (own,) = match(file, {"event": "alert", "severity": "warning", "owner": "li"})
    assert (child.route, own.route) == ("root/parent/child", "root/parent")
    assert child.model_dump(exclude={"route"}) == own.model_dump(exclude={"route"})


@pytest.mark.parametrize(
    ("matcher", "labels", "matches"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('severity!="critical"', {"severity": "warning"}, True),
        ('severity!="critical"', {}, True),
        ('rule_id=~"stockout_.*"', {"rule_id": "stockout_risk"}, True),
        ('rule_id=~"stockout"', {"rule_id": "stockout_risk"}, False),  # anchored
        ('rule_id!~"dead_stock|aged_batch"', {"rule_id": "aged_batch"}, False),
        ('rule_id!~"dead_stock|aged_batch"', {"rule_id": "overstock"}, True),
        ('owner=""', {}, True),
        ('owner!=""', {"owner": "li"}, True),
        ("warehouse_id = SH01", {"warehouse_id": "SH01"}, True),
        ('category="a \\"quoted\\" name"', {"category": 'a "quoted" name'}, True),
    ],
)
def test_matchers_have_alertmanagers_operators_and_a_missing_label_is_empty(
    matcher: str, labels: dict[str, str], matches: bool
):
    assert Matcher.model_validate(matcher).matches(labels) is matches


@given(
    label=st.sampled_from(LABELS),
    op=st.sampled_from(["=", "!="]),
    value=st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)
def test_a_matcher_written_out_reads_back_as_the_same_matcher(label: str, op: str, value: str):
    if label in ("event", "severity"):
        value = ""  # only their known values are accepted
    matcher = Matcher(label=label, op=op, value=value)
    assert Matcher.model_validate(str(matcher)) == matcher


@given(seconds=st.integers(0, 10**8))
def test_a_duration_written_out_reads_back_as_the_same_duration(seconds: int):
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == seconds


OWNED = """
route:
  receivers: [ops]
  routes:
    - {name: critical, matchers: ['severity="critical"'], receivers: [owner, leads, li]}
    - {name: reviews, matchers: ['event="review"'], receivers: [roles, ops]}
    - {name: approvals, matchers: ['event="purchase_request"'], receivers: [approver, ops]}
"""


@pytest.mark.parametrize(
    ("owner", "expected"),
    [
        ("anna", ("anna", "wang", "li")),  # a person: first, then the route's others
        ("li", ("li", "wang")),  # each person once
        ("buyers", ("li", "anna", "wang")),  # a group: its people
        ("nobody", ("wang", "li")),  # not in the directory: the route's other receivers
        ("", ("wang", "li")),
    ],
)
def test_the_owner_receiver_is_the_person_the_items_owner_label_names(owner, expected):
    found = recipients(routing(OWNED), severity="critical", owner=owner)
    assert found == [expected]


def test_the_roles_and_approver_receivers_resolve_their_labels_names():
    file = routing(OWNED)
    assert recipients(file, event="review", roles="leads, anna,unknown") == [
        ("wang", "anna", "ops")
    ]
    assert recipients(file, event="purchase_request", approver="buyers") == [("li", "anna", "ops")]


def test_groups_expand_to_their_people_in_order_each_once():
    file = routing("route: {receivers: [anna, buyers, leads, li]}")
    assert recipients(file) == [("anna", "li", "wang")]


def test_a_person_is_read_with_short_forms_and_defaults():
    file = load_routing(
        """
people:
  li:
    name: Li Na
    language: zh-CN
    timezone: Asia/Shanghai
    channels: {email: li@example.com, dingtalk: purchasing-dingtalk}
    critical_channels: {sms: "+8613800000000"}
    digest_at: "7:45"
    quiet_hours: "22:00-7:00"
route: {receivers: li}
""",
        "routes.yaml",
    )
    li = file.people["li"]
    assert li.channels == (
        Destination(channel=Channel.EMAIL, address="li@example.com"),
        Destination(channel=Channel.DINGTALK, address="purchasing-dingtalk"),
    )
    assert (li.digest_at.hour, li.digest_at.minute) == (7, 45)
    assert li.quiet_hours is not None and li.quiet_hours.end.hour == 7
    default = load_routing(PEOPLE + "route: {receivers: li}", "r.yaml").people["anna"]
    assert default == Person(
        id="anna",
        name="anna",
        channels=(Destination(channel=Channel.SLACK, address="buyers-slack"),),
    )


def test_the_shipped_routing_file_loads_and_routes_as_its_comments_say():
    file = default_routing()
    critical = match(file, {"event": "alert", "severity": "critical", "owner": "li.na"})
    assert [(m.route, m.recipients, m.escalate_after) for m in critical] == [
        ("root/critical", ("li.na",), timedelta(minutes=30))
    ]
    assert all(file.people[p].critical_channels for p in critical[0].recipients)
    (unowned,) = match(file, {"event": "alert", "severity": "critical", "owner": "planner"})
    assert (unowned.route, unowned.recipients) == ("root/critical", ("zhang.wei",))
    (warning,) = match(file, {"event": "alert", "severity": "warning"})
    assert (warning.route, warning.recipients, warning.digest) == (
        "root/warnings",
        ("li.na", "anna"),
        True,
    )
    slow = {"event": "alert", "severity": "critical", "rule_id": "aged_batch"}
    (aged,) = match(file, slow)
    assert (aged.route, aged.digest, aged.repeat_interval) == (
        "root/critical/slow",
        False,
        timedelta(days=7),
    )
    (info,) = match(file, {"event": "alert", "severity": "info"})
    assert info.digest
    approval = {"event": "purchase_request", "status": "pending_approval", "approver": "cfo"}
    (pending,) = match(file, approval)
    assert (pending.recipients, pending.escalate_after) == (
        ("chen.jing", "zhang.wei"),
        timedelta(days=1),
    )
    review = {"event": "review", "roles": "sales,engineering,finance", "owner": "anna"}
    (opinions,) = match(file, review)
    assert opinions.recipients == ("wang.fang", "david", "liu.yang", "anna", "ops")


def test_a_fallback_receives_only_when_the_receivers_name_nobody_known():
    routing = load_routing(
        """
people:
  li: {channels: {email: li@example.com}}
  wang: {channels: {email: wang@example.com}}
route:
  receivers: [owner]
  fallback: [wang]
""",
        "routes.yaml",
    )
    assert match(routing, {"owner": "li"})[0].recipients == ("li",)
    assert match(routing, {"owner": "planner"})[0].recipients == ("wang",)
    assert match(routing, {})[0].recipients == ("wang",)


P = "people:\n  li: {channels: {email: li@example.com}}\n"
ROOT = "route: {receivers: [li]}\n"


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", ["a routing file is a mapping with 'people' and 'route', got nothing"]),
        ("route: [\n", ["not valid YAML: "]),
        (
            "peple: {}\n" + ROOT,
            ["people: required", "peple: unknown field (did you mean 'people'?)"],
        ),
        (
            P + "route: {receivers: [li], grop_by: [rule_id]}",
            ["route root: grop_by: unknown field (did you mean 'group_by'?)"],
        ),
        (
            "people:\n  li: {channels: {mail: li@example.com}, languag: en}\n" + ROOT,
            [
                "people.li.channels.mail: unknown channel 'mail' (did you mean 'email'?); "
                "channels are email, sms, webhook, slack, dingtalk, wecom, feishu",
                "people.li.languag: unknown field (did you mean 'language'?)",
            ],
        ),
        (
            "people:\n  li: {channels: {email: li@example.com}, language: de}\n" + ROOT,
            ["people.li.language: Input should be 'en' or 'zh-CN', got 'de'"],
        ),
        (
            "people:\n  li: {channels: {email: li}, timezone: Asia/Shangai}\n" + ROOT,
            [
                "people.li.timezone: unknown time zone 'Asia/Shangai' (did you mean "
                "'Asia/Shanghai'?); an IANA zone such as Asia/Shanghai",
                "people.li.channels.email: not an email address: 'li'",
            ],
        ),
        (
            "people:\n  li: {channels: {sms: '123', webhook: 'https://x.example/hook?t=1'}}\n"
            + ROOT,
            [
                "people.li.channels.sms: a phone number in international form, e.g. "
                "+8613800000000, got '123'",
                "people.li.channels.webhook: the name of a webhook endpoint from the delivery "
                "settings (its URL and secret stay there), e.g. purchasing-webhook, got "
                "'https://x.example/hook?t=1'",
            ],
        ),
        (
            P.replace("}}", "}, digest_at: 8:30, quiet_hours: '22-07'}") + ROOT,
            [
                "people.li.digest_at: quote the time, e.g. '08:30': YAML reads an unquoted time "
                "such as 8:30 as a number of minutes, got 510",
                "people.li.quiet_hours: a local time span 'HH:MM-HH:MM', e.g. '22:00-07:00', "
                "got '22-07'",
            ],
        ),
        (
            P.replace("}}", "}, digest_at: '25:00'}") + ROOT,
            ["people.li.digest_at: a local time as HH:MM, e.g. '08:30', got '25:00'"],
        ),
        (
            "people:\n  li: {id: lo, channels: [], quiet_hours: '22:00-22:00', escalate_to: bo}\n"
            + ROOT,
            [
                "people.li.id: the directory key is the id, got 'lo'",
                "people.li.channels: give at least one, e.g. {email: li@example.com}",
                "people.li.quiet_hours: start and end are both 22:00; leave quiet_hours out "
                "for none",
                "people.li.escalate_to: unknown person 'bo'",
            ],
        ),
        (
            P.replace("}}", "}, digest_at: '08:30Z'}") + ROOT,
            [
                "people.li.digest_at: a local time without a zone (the person's timezone places "
                "it), got 08:30:00+00:00"
            ],
        ),
        (
            P.replace("}}", "}, escalate_to: li}") + ROOT,
            ["people.li.escalate_to: li cannot escalate to themselves; name the next person"],
        ),
        (
            "people:\n  li: {channels: {email: li@example.com}, escalate_to: bo}\n"
            "  bo: {channels: {email: bo@example.com}, escalate_to: li}\n" + ROOT,
            [
                "people.li.escalate_to: the chain li -> bo -> li comes back to li; end it "
                "with someone",
                "people.bo.escalate_to: the chain bo -> li -> bo comes back to bo; end it "
                "with someone",
            ],
        ),
        (
            P + "groups: {li: [li], g: [lo, g2], g2: [li], e: [], owner: [li]}\n" + ROOT,
            [
                "groups.li: 'li' is a person; give the group a name of its own",
                "groups.g: 'lo' is no person",
                "groups.g: 'g2' is a group: groups hold people",
                "groups.e: a group needs at least one person",
                "groups.owner: 'owner' is reserved for the receiver named by the item's owner "
                "label; choose another name",
            ],
        ),
        (
            P + "route: {matchers: ['severity=\"critical\"'], continue: true}",
            [
                "route root: matchers: the root route matches every item; give matchers to its "
                "routes",
                "route root: continue: only a child route can continue",
                "route root: receivers: required: who receives what no other route takes",
            ],
        ),
        (
            P + "route:\n  receivers: [li]\n  routes:\n"
            "    - {matchers: ['severty=\"critical\"', 'event=\"alrt\"', 'rule_id=~\"(\"', x,"
            " 'severity=\"crit']}\n",
            [
                "route root/routes[0]: matchers[0]: unknown label 'severty' (did you mean "
                "'severity'?); labels are " + ", ".join(LABELS),
                "route root/routes[0]: matchers[1]: event=\"alrt\": unknown event 'alrt' (did "
                "you mean 'alert'?); event is one of alert, purchase_request, transfer, review, "
                "shortage",
                'route root/routes[0]: matchers[2]: rule_id=~"(": not a regular expression: '
                "missing ), unterminated subpattern at position 0",
                "route root/routes[0]: matchers[3]: not a matcher: 'x'; write label, operator "
                '(=, !=, =~, !~) and value, e.g. severity="critical" or rule_id=~"stockout_.*"',
                "route root/routes[0]: matchers[4]: not a matcher: 'severity=\"crit': the "
                "value's closing quote is missing",
            ],
        ),
        (
            P + "route:\n  receivers: [li]\n  routes:\n"
            "    - {name: a, group_wait: 30, group_interval: 0s, repeat_interval: 2 days,"
            " group_by: [rule]}\n"
            "    - {name: 'a/b', contnue: true, digest: 'yes', escalate_after: 1x}\n",
            [
                "route root/a: group_by[0]: unknown label 'rule' (did you mean 'rule_id'?); "
                "labels are " + ", ".join(LABELS),
                "route root/a: group_wait: a duration needs its unit, e.g. 30s, 5m, 4h or 1d, "
                "got 30",
                "route root/a: group_interval: must be longer than 0s, got 0s",
                "route root/a: repeat_interval: expected a duration like '2d', '12h', '30m', "
                "'90s' or '1w', got '2 days'",
                "route root/a/b: name: a name of letters, digits, '.', '_' and '-', got 'a/b'",
                "route root/a/b: digest: Input should be a valid boolean, got 'yes'",
                "route root/a/b: escalate_after: expected a duration like '2d', '12h', '30m', "
                "'90s' or '1w', got '1x'",
                "route root/a/b: contnue: unknown field (did you mean 'continue'?)",
            ],
        ),
        (
            P + "route:\n  receivers: [li]\n  routes:\n"
            "    - {matchers: ['severity=\"critical\"']}\n"
            "    - {name: a, receivers: [owner]}\n"
            "    - {name: a, receivers: [lii]}\n",
            [
                "route root: routes: two routes are named 'a'",
                "route root/routes[0]: name: required: name the route, e.g. critical",
                "route root/a: receivers: owner alone may name nobody in the directory; add a "
                "person or group who receives then",
                "route root/a: receivers: unknown receiver 'lii' (did you mean 'li'?)",
            ],
        ),
    ],
)
def test_every_problem_is_one_line_naming_the_route_or_person_and_the_field(text, problems):
    with pytest.raises(RoutingError) as refused:
        load_routing(text, "routes.yaml")
    lines = refused.value.problems
    assert len(lines) == len(problems), lines
    for line, problem in zip(lines, problems, strict=True):
        assert line.startswith(f"routes.yaml: {problem}"), (line, problem)


def test_the_severities_a_matcher_accepts_are_the_alerts_severities():
    assert get_args(Severity) == SEVERITIES
