"""Property tests: IP parsing never crashes, and what it accepts is canonical and stable."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma.errors import InvalidInput
from sigma.schemas.common import parse_ip, validate
from sigma.schemas.inventory import IpEntry, VpsCreate


@given(st.ip_addresses())
def test_every_address_round_trips_canonically(addr):
    text = parse_ip(str(addr))
    assert ipaddress.ip_address(text) == addr
    assert parse_ip(text) == text  # idempotent
    assert parse_ip(f"  {addr.exploded.upper()}  ") == text  # exploded, upper-case, padded


@given(st.ip_addresses(v=6))
def test_bracketed_ipv6_is_accepted(addr):
    assert parse_ip(f"[{addr}]") == str(addr)


@given(st.text(max_size=60))
def test_arbitrary_text_is_either_an_address_or_a_value_error(text):
    try:
        result = parse_ip(text)
    except ValueError:
        return
    assert ipaddress.ip_address(result)


@given(st.ip_addresses(), st.integers(0, 128))
def test_networks_are_refused(addr, prefix):
    with pytest.raises(ValueError):
        parse_ip(f"{addr}/{prefix % (addr.max_prefixlen + 1)}")


@settings(max_examples=200)
@given(
    st.lists(st.one_of(st.ip_addresses().map(str), st.text(max_size=20)), max_size=6),
    st.sampled_from(["", "ct", "CU", "china-mobile", "overseas", "bogus", None]),
)
def test_vps_ip_lists_validate_or_name_the_field(ips, label):
    body = {"hostname": "h", "ip_addresses": [{"ip": ip, "label": label} for ip in ips]}
    try:
        v = validate(VpsCreate, body)
    except InvalidInput as exc:
        assert exc.field and exc.field.startswith("ip_addresses")
        return
    seen = [e.ip for e in v.ip_addresses]
    assert len(seen) == len(set(seen))  # duplicates never pass
    for e in v.ip_addresses:
        assert isinstance(e, IpEntry) and ipaddress.ip_address(e.ip)
