"""Provider service: CRUD, partial update, references, audit, roles (SQLite + PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from sigma.errors import Ambiguous, Conflict, InvalidInput, NotFound, PermissionDenied
from sigma.schemas.inventory import ProviderCreate, ProviderUpdate
from sigma.services import providers, vps


def test_create_defaults_and_show(run):
    p = run(providers.create, {"name": "DMIT"})
    assert p.name == "DMIT"
    assert (p.country, p.website, p.panel_url, p.notes) == ("", "", "", "")
    assert p.api_supported is False and p.rating is None
    assert p.created_at.tzinfo is not None and p.updated_at.tzinfo is not None
    shown = run(providers.get, p.id)
    assert shown == p


def test_create_every_field_and_contract_json(run):
    p = run(
        providers.create,
        ProviderCreate(
            name="  BandwagonHost ",
            country="us",
            website="https://bwh.example",
            panel_url="https://panel.bwh.example/login",
            api_supported=True,
            rating=4,
            notes="good routes\nto CN2",
        ),
    )
    body = p.model_dump(mode="json")
    assert list(body) == [
        "id",
        "name",
        "country",
        "website",
        "panel_url",
        "api_supported",
        "rating",
        "notes",
        "created_at",
        "updated_at",
    ]
    assert body["name"] == "BandwagonHost"
    assert body["country"] == "US"
    assert body["rating"] == 4 and body["api_supported"] is True
    assert body["notes"] == "good routes\nto CN2"
    assert body["created_at"].endswith("Z")
    assert str(uuid.UUID(body["id"])) == body["id"]


def test_duplicate_name_is_conflict_case_insensitively(run, count, db_models):
    run(providers.create, {"name": "DMIT"})
    with pytest.raises(Conflict) as exc:
        run(providers.create, {"name": "dmit"})
    assert exc.value.field == "name"
    assert count(db_models.Provider) == 1


def test_list_is_ordered_by_name_with_pagination_envelope(run):
    for name in ["zeta", "Alpha", "mid", "beta"]:
        run(providers.create, {"name": name})
    page = run(providers.list_providers, 1, 2)
    assert (page.total, page.page, page.per_page) == (4, 1, 2)
    page2 = run(providers.list_providers, 2, 2)
    assert len(page2.data) == 2
    names = [p.name for p in page.data + page2.data]
    assert names == ["Alpha", "beta", "mid", "zeta"]
    assert [p.name for p in run(providers.all_providers)] == names


def test_list_clamps_page_and_per_page(run, each):
    run(providers.create, {"name": "only"})

    def check(page, per_page, expect):
        result = run(providers.list_providers, page, per_page)
        assert (result.page, result.per_page) == expect
        assert result.total == 1

    each([(0, 25, (1, 25)), (-3, 0, (1, 1)), (1, 1000, (1, 100)), (2, -5, (2, 1))], check)


def test_partial_update_keeps_absent_and_null_clears_rating(run, audit_rows):
    p = run(
        providers.create,
        {"name": "DMIT", "country": "US", "rating": 4, "notes": "n", "website": "https://dmit.io"},
    )
    q = run(providers.update, p.id, ProviderUpdate(notes="fast support"))
    assert (q.name, q.country, q.rating, q.website) == ("DMIT", "US", 4, "https://dmit.io")
    assert q.notes == "fast support"
    r = run(providers.update, "dmit", {"rating": None})
    assert r.rating is None and r.notes == "fast support"
    assert run(providers.get, p.id).rating is None
    updates = audit_rows(action="update", resource="provider")
    assert [u.details["changes"] for u in updates] == [
        {"notes": {"from": "n", "to": "fast support"}},
        {"rating": {"from": 4, "to": None}},
    ]
    assert updates[0].details["name"] == "DMIT"
    assert updates[0].resource_id == str(p.id)


def test_update_refuses_null_for_non_nullable_fields(run, each):
    p = run(providers.create, {"name": "DMIT"})

    def check(field):
        with pytest.raises(InvalidInput) as exc:
            run(providers.update, p.id, {field: None})
        assert field in str(exc.value)

    each(["name", "country", "website", "panel_url", "api_supported", "notes"], check)
    assert run(providers.get, p.id) == p


def test_update_rename_clash_is_conflict(run):
    run(providers.create, {"name": "A"})
    b = run(providers.create, {"name": "B"})
    with pytest.raises(Conflict):
        run(providers.update, b.id, {"name": "a"})
    # renaming to a different case of itself is fine
    assert run(providers.update, b.id, {"name": "b"}).name == "b"


def test_update_unknown_field_refused(run):
    p = run(providers.create, {"name": "A"})
    with pytest.raises(InvalidInput) as exc:
        run(providers.update, p.id, {"ratting": 3})
    assert exc.value.field == "ratting"


def test_update_without_change_writes_no_audit(run, audit_rows):
    p = run(providers.create, {"name": "A", "rating": 3})
    run(providers.update, p.id, {"rating": 3})
    assert audit_rows(action="update") == []


def test_delete_and_not_found(run, count, db_models, audit_rows):
    p = run(providers.create, {"name": "Gone"})
    gone = run(providers.delete, "gone")
    assert gone.id == p.id
    assert count(db_models.Provider) == 0
    with pytest.raises(NotFound):
        run(providers.get, p.id)
    with pytest.raises(NotFound):
        run(providers.delete, p.id)
    rows = audit_rows(action="delete", resource="provider")
    assert len(rows) == 1 and rows[0].resource_id == str(p.id)


def test_delete_refused_while_provider_has_vps(run, count, db_models, audit_rows):
    p = run(providers.create, {"name": "Busy"})
    run(vps.create, {"hostname": "hk-1", "provider_id": p.id})
    run(vps.create, {"hostname": "hk-2", "provider_id": p.id, "status": "retired"})
    with pytest.raises(Conflict) as exc:
        run(providers.delete, p.id)
    msg = str(exc.value)
    assert "Busy" in msg and "2 VPS" in msg and "hk-1" in msg
    assert count(db_models.Provider) == 1
    assert audit_rows(action="delete") == []


# ------------------------------------------------------------------ references


def test_reference_by_full_uuid_prefix_and_name(run):
    p = run(providers.create, {"name": "DMIT"})
    assert run(providers.get, str(p.id)).id == p.id
    assert run(providers.get, str(p.id).upper()).id == p.id
    assert run(providers.get, str(p.id)[:4]).id == p.id
    assert run(providers.get, str(p.id)[:13]).id == p.id  # prefix with a hyphen
    assert run(providers.get, "dmit").id == p.id
    assert run(providers.get, "  DMIT ").id == p.id


def test_reference_too_short_or_unknown(run):
    p = run(providers.create, {"name": "DMIT"})
    with pytest.raises(NotFound):
        run(providers.get, str(p.id)[:3])
    with pytest.raises(NotFound):
        run(providers.get, "nope")
    with pytest.raises(NotFound):
        run(providers.get, uuid.uuid4())
    with pytest.raises(InvalidInput):
        run(providers.get, "")


def test_ambiguous_prefix_lists_candidates(run, sessions):
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Provider as Row

    ids = [
        uuid.UUID("abcd0000-0000-4000-8000-000000000001"),
        uuid.UUID("abcd0000-0000-4000-8000-000000000002"),
    ]
    with unit_of_work(sessions) as s:
        s.add_all([Row(id=ids[0], name="One"), Row(id=ids[1], name="Two")])
    with pytest.raises(Ambiguous) as exc:
        run(providers.get, "abcd")
    msg = str(exc.value)
    assert "One" in msg and "Two" in msg and "ambiguous" in msg
    assert isinstance(exc.value, InvalidInput)
    # the candidates are shown with ids long enough to pick one
    assert str(ids[0]) in msg and str(ids[1]) in msg
    assert run(providers.get, "abcd0000-0000-4000-8000-000000000002").name == "Two"


def test_name_wins_over_prefix(run, sessions):
    from sigma.db.engine import unit_of_work
    from sigma.db.models.core import Provider as Row

    with unit_of_work(sessions) as s:
        s.add_all(
            [
                Row(id=uuid.UUID("beef0000-0000-4000-8000-000000000001"), name="cafe"),
                Row(id=uuid.UUID("cafe0000-0000-4000-8000-000000000001"), name="other"),
            ]
        )
    assert run(providers.get, "cafe").name == "cafe"
    assert run(providers.get, "beef").name == "cafe"


# ------------------------------------------------------------------ audit and roles


def test_create_writes_one_audit_row(run, audit_rows, actor):
    p = run(providers.create, {"name": "DMIT"})
    rows = audit_rows()
    assert len(rows) == 1
    row = rows[0]
    assert (row.action, row.resource, row.resource_id) == ("create", "provider", str(p.id))
    assert row.user_email == actor.email
    assert row.details == {"name": "DMIT"}
    assert row.created_at.tzinfo is not None


def test_failed_mutations_write_nothing(run, count, db_models, audit_rows):
    p = run(providers.create, {"name": "A"})
    for call in (
        lambda: run(providers.create, {"name": ""}),
        lambda: run(providers.create, {"name": "B", "rating": 9}),
        lambda: run(providers.create, {"name": "a"}),
        lambda: run(providers.update, p.id, {"website": "ftp://x"}),
        lambda: run(providers.update, "missing", {"notes": "x"}),
        lambda: run(providers.delete, "missing"),
    ):
        with pytest.raises((InvalidInput, Conflict, NotFound)):
            call()
    assert count(db_models.Provider) == 1
    assert len(audit_rows()) == 1
    assert run(providers.get, p.id).website == ""


def test_readonly_actor_can_read_but_not_write(run, readonly, count, db_models, audit_rows):
    p = run(providers.create, {"name": "A"})
    assert run(providers.get, p.id, as_actor=readonly).name == "A"
    assert run(providers.list_providers, as_actor=readonly).total == 1
    with pytest.raises(PermissionDenied) as exc:
        run(providers.create, {"name": "B"}, as_actor=readonly)
    assert "readonly" in str(exc.value)
    with pytest.raises(PermissionDenied):
        run(providers.update, p.id, {"notes": "x"}, as_actor=readonly)
    with pytest.raises(PermissionDenied):
        run(providers.delete, p.id, as_actor=readonly)
    assert count(db_models.Provider) == 1
    assert len(audit_rows()) == 1


def test_absurd_page_is_invalid_input_not_a_database_error(run):
    run(providers.create, {"name": "A"})
    with pytest.raises(InvalidInput) as exc:
        run(providers.list_providers, 10**20, 25)
    assert exc.value.field == "page"
    assert run(providers.list_providers, 1_000_000, 100).data == []
