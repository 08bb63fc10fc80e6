"""Property tests: any combination of list filters either lists (a subset that really
matches) or is refused with InvalidInput naming the field; never a crash."""

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sigma.db.engine import unit_of_work
from sigma.errors import InvalidInput
from sigma.schemas.common import validate
from sigma.schemas.inventory import VpsFilter
from sigma.services import vps
from sigma.services.actor import local_actor
from sigma.vocab import VPS_PURPOSES, VPS_STATUSES

filters = st.fixed_dictionaries(
    {},
    optional={
        "status": st.one_of(st.sampled_from(VPS_STATUSES), st.text(max_size=8)),
        "country": st.one_of(st.sampled_from(["HK", "jp", "US"]), st.text(max_size=3)),
        "purpose": st.one_of(st.sampled_from(VPS_PURPOSES), st.text(max_size=5)),
        "tag": st.lists(st.sampled_from(["a", "b", "p:x", "c d", ""]), max_size=3),
        "expiring_within_days": st.one_of(st.integers(-5, 400), st.text(max_size=3)),
        "search": st.text(max_size=12),
        "ip": st.one_of(
            st.sampled_from(["10.0.0.1", "2001:db8::1", "2001:DB8:0::1"]), st.text(max_size=10)
        ),
        "page": st.integers(-3, 5),
        "per_page": st.integers(-3, 500),
    },
)


def _fleet(session):
    actor = local_actor()
    today = date.today()
    for i, (status, country, tags, ip) in enumerate(
        [
            ("active", "HK", ["a", "p:x"], "10.0.0.1"),
            ("retired", "JP", ["b"], "2001:db8::1"),
            ("provisioning", "US", ["a", "b"], "10.0.0.2"),
        ]
    ):
        vps.create(
            session,
            actor,
            {
                "hostname": f"h{i}",
                "alias": f"al%_{i}",
                "status": status,
                "country": country,
                "tags": tags,
                "ip_addresses": [{"ip": ip}],
                "expire_date": str(today + timedelta(days=10 * i)),
                "purpose": "vpn-exit" if i else "",
            },
        )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=filters)
def test_filters_never_crash(sessions, raw):
    with unit_of_work(sessions) as session:
        if not vps.all_vps(session, local_actor()):
            _fleet(session)
    try:
        f = validate(VpsFilter, raw)
    except InvalidInput as exc:
        assert exc.field
        return
    with unit_of_work(sessions) as session:
        page = vps.list_vps(session, local_actor(), f)
    assert 1 <= page.per_page <= 100 and page.page >= 1
    assert len(page.data) <= page.per_page
    for v in page.data:
        if f.status:
            assert v.status == f.status
        if f.country:
            assert v.country == f.country
        for t in f.tag:
            assert t in v.tags
        if f.ip:
            assert f.ip in [e.ip for e in v.ip_addresses]
        if f.search:
            needle = f.search.casefold()
            assert needle in v.hostname.casefold() or needle in v.alias.casefold()
