"""The record service as a caller sees it: values in, records and errors out, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from crm_platform.metadata.model import Choice, Field, FieldType
from crm_platform.runtime.actors import SYSTEM
from crm_platform.runtime.errors import ConflictError, NotFoundError, ValidationError
from crm_platform.runtime.events import EventBus, EventKind, RecordEvent, WriteIntent
from crm_platform.runtime.records.coerce import FieldError, coerce_value
from crm_platform.runtime.records.service import RecordService
from tests.support.record_blueprint import NOW, Clock, actor_for, add_user, make_service


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(engine: sa.Engine, clock: Clock) -> RecordService:
    return make_service(engine, clock)


@pytest.fixture
def alice(engine: sa.Engine, service: RecordService):
    return actor_for(add_user(engine, "alice@example.com"))


@pytest.fixture
def account(service: RecordService, alice) -> dict:
    return service.create("account", {"name": "Acme"}, actor=alice)


def _deal(service: RecordService, actor, account: dict, **values) -> dict:
    return service.create("opportunity", {"name": "Deal", "account": account["id"], **values}, actor=actor)


def _errors(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return excinfo.value.fields


# -- create ---------------------------------------------------------------------------------------


def test_create_coerces_form_strings_and_fills_defaults(service, alice, account) -> None:
    deal = _deal(service, alice, account, amount="1,250.5", seats="5", tags="strategic,hot")

    assert deal["id"] > 0 and deal["version"] == 1
    assert deal["amount"] == Decimal("1250.50")
    assert deal["seats"] == 5
    assert deal["tags"] == ["hot", "strategic"]  # declaration order
    assert deal["discount"] == Decimal("0")
    assert deal["close_date"] == NOW.date()  # default: today, from the injected clock
    assert deal["stage"] == "initial_contact"  # first stage
    assert deal["owner_id"] == alice.user_id and deal["created_by"] == alice.user_id
    assert deal["created_at"] == deal["updated_at"] == NOW
    assert deal["created_at"].tzinfo is not None
    assert deal["deleted_at"] is None


def test_create_computes_formulas_and_auto_numbers(service, alice, account) -> None:
    first = _deal(service, alice, account, amount="1000", discount="10", seats=4)
    second = _deal(service, alice, account, amount="50")

    assert first["net_amount"] == Decimal("900.00")
    assert first["per_employee"] == Decimal("225.0000")  # a formula over a formula
    assert second["per_employee"] is None  # seats missing: the formula fails and stores NULL
    assert (first["number"], second["number"]) == ("OPP-000001", "OPP-000002")


def test_get_returns_what_create_returned(service, alice, account) -> None:
    deal = _deal(service, alice, account, amount="10", tags=["hot"])
    assert service.get("opportunity", deal["id"], actor=alice) == deal


def test_all_field_errors_are_reported_at_once(service, alice, account) -> None:
    with pytest.raises(ValidationError) as excinfo:
        service.create(
            "opportunity",
            {
                "account": 999,
                "amount": "abc",
                "discount": "150",
                "stage": "negotation",
                "tags": ["hott"],
                "amout": 1,
                "version": 7,
                "net_amount": 5,
                "reviewer": 4242,
            },
            actor=alice,
        )
    assert _errors(excinfo) == {
        "name": "is required",
        "account": "account 999 does not exist",
        "amount": "expected a number, got 'abc'",
        "discount": "must be at most 100",
        "stage": "'negotation' is not a stage; did you mean 'negotiation'?",
        "tags": "'hott' is not a choice; did you mean 'hot'?",
        "amout": "unknown field 'amout' of opportunity; did you mean 'amount'?",
        "version": "'version' is set by the platform and cannot be written",
        "net_amount": "'net_amount' is computed by the platform and cannot be written",
        "reviewer": "user 4242 does not exist",
    }
    assert service.count("opportunity", actor=alice) == 0


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"amount": "-1"}, "amount", "must be at least 0"),
        ({"amount": "1.234"}, "amount", "has more than 2 decimal places"),
        ({"seats": "2.5"}, "seats", "expected a whole number, got '2.5'"),
        ({"close_date": "01/05/2024"}, "close_date", "expected a date (YYYY-MM-DD), got '01/05/2024'"),
        ({"name": "x" * 201}, "name", "must be at most 200 characters (got 201)"),
        ({"name": "   "}, "name", "is required"),
        ({"id": 5}, "id", "'id' is set by the platform and cannot be written"),
        (
            {"created_at": "2024-01-01"},
            "created_at",
            "'created_at' is set by the platform and cannot be written",
        ),
        ({"deleted_at": None}, "deleted_at", "'deleted_at' is set by the platform and cannot be written"),
        ({"number": "OPP-9"}, "number", "'number' is computed by the platform and cannot be written"),
    ],
)
def test_single_field_errors(service, alice, account, values, field, message) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _deal(service, alice, account, **values)
    assert _errors(excinfo)[field] == message


def test_formats_of_email_url_phone_and_pattern(service, alice) -> None:
    with pytest.raises(ValidationError) as excinfo:
        service.create("contact", {"name": "Bo", "email": "bo@", "code": "ab1"}, actor=alice)
    assert _errors(excinfo) == {
        "email": "'bo@' is not an e-mail address",
        "code": "'ab1' does not match the pattern ^[A-Z]{2}[0-9]{3}$",
    }
    with pytest.raises(ValidationError) as excinfo:
        service.create("account", {"name": "A", "website": "example.com", "phone": "call me"}, actor=alice)
    assert _errors(excinfo) == {
        "website": "'example.com' is not a web address (http:// or https://)",
        "phone": "'call me' is not a phone number",
    }


def test_booleans_and_datetimes_from_strings(service, alice) -> None:
    account = service.create("account", {"name": "A", "is_key": "yes"}, actor=alice)
    assert account["is_key"] is True
    contact = service.create("contact", {"name": "C", "last_seen": "2024-05-01T12:00:00+02:00"}, actor=alice)
    assert contact["last_seen"] == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert service.get("contact", contact["id"], actor=alice)["last_seen"].utcoffset() == dt.timedelta(0)


def test_owner_must_be_an_active_user(engine, service, alice) -> None:
    gone = add_user(engine, "gone@example.com", active=False)
    bob = add_user(engine, "bob@example.com")
    with pytest.raises(ValidationError) as excinfo:
        service.create("account", {"name": "A", "owner_id": gone}, actor=alice)
    assert _errors(excinfo) == {"owner_id": f"user {gone} is deactivated"}
    assert service.create("account", {"name": "A", "owner_id": bob}, actor=alice)["owner_id"] == bob


def test_unique_values_among_live_records(service, alice) -> None:
    first = service.create("contact", {"name": "A", "email": "a@example.com"}, actor=alice)
    with pytest.raises(ValidationError) as excinfo:
        service.create("contact", {"name": "B", "email": "a@example.com"}, actor=alice)
    assert _errors(excinfo) == {"email": f"already used by contact {first['id']}"}

    service.delete("contact", first["id"], actor=alice)
    second = service.create("contact", {"name": "B", "email": "a@example.com"}, actor=alice)
    # The deleted one cannot come back while its e-mail is taken again.
    with pytest.raises(ValidationError) as excinfo:
        service.restore("contact", first["id"], actor=alice)
    assert _errors(excinfo) == {"email": f"already used by contact {second['id']}"}


def test_lookup_to_a_deleted_record_is_refused(service, alice, account) -> None:
    service.delete("account", account["id"], actor=alice)
    with pytest.raises(ValidationError) as excinfo:
        _deal(service, alice, account)
    assert _errors(excinfo) == {"account": f"account {account['id']} does not exist"}


def test_unknown_object_is_not_found_with_a_hint(service, alice) -> None:
    with pytest.raises(NotFoundError, match="unknown object 'oportunity'; did you mean 'opportunity'"):
        service.create("oportunity", {}, actor=alice)


# -- update ---------------------------------------------------------------------------------------


def test_update_writes_changes_bumps_version_and_recomputes_formulas(service, alice, account, clock) -> None:
    deal = _deal(service, alice, account, amount="100", discount="10")
    clock.advance(hours=1)
    updated = service.update("opportunity", deal["id"], {"amount": "200"}, version=1, actor=alice)

    assert updated["version"] == 2
    assert updated["amount"] == Decimal("200.00")
    assert updated["net_amount"] == Decimal("180.00")
    assert updated["updated_at"] == NOW + dt.timedelta(hours=1)
    assert updated["created_at"] == NOW
    # An edit restarts the "idle" clock of time rules.
    assert deal["touched_at"] == NOW
    assert updated["touched_at"] == NOW + dt.timedelta(hours=1)
    assert service.get("opportunity", deal["id"], actor=alice) == updated


def test_update_without_change_is_a_no_op(service, alice, account) -> None:
    deal = _deal(service, alice, account, amount="100", tags=["hot", "strategic"])
    same = service.update(
        "opportunity", deal["id"], {"amount": "100.00", "tags": "strategic,hot"}, version=1, actor=alice
    )
    assert same == deal
    assert [entry.action for entry in service.history("opportunity", deal["id"])] == ["create"]


def test_stale_version_is_a_conflict_and_nothing_is_written(service, alice, account) -> None:
    deal = _deal(service, alice, account, amount="100")
    service.update("opportunity", deal["id"], {"amount": "150"}, version=1, actor=alice)

    with pytest.raises(ConflictError) as excinfo:
        service.update("opportunity", deal["id"], {"amount": "999", "name": "Mine"}, version=1, actor=alice)

    assert (excinfo.value.version, excinfo.value.current_version) == (1, 2)
    current = service.get("opportunity", deal["id"], actor=alice)
    assert (current["amount"], current["name"], current["version"]) == (Decimal("150.00"), "Deal", 2)
    assert [e.new_value for e in service.history("opportunity", deal["id"]) if e.field == "amount"] == [
        "150.00"
    ]


def test_update_validates_and_writes_nothing_on_error(service, alice, account) -> None:
    deal = _deal(service, alice, account, amount="100")
    with pytest.raises(ValidationError) as excinfo:
        service.update("opportunity", deal["id"], {"amount": "50", "name": ""}, version=1, actor=alice)
    assert _errors(excinfo) == {"name": "is required"}
    assert service.get("opportunity", deal["id"], actor=alice) == deal


def test_history_has_one_row_per_changed_field(service, engine, alice, account, clock) -> None:
    bob = actor_for(add_user(engine, "bob@example.com"))
    deal = _deal(service, alice, account, amount="100")
    clock.advance(minutes=5)
    service.update(
        "opportunity",
        deal["id"],
        {"amount": "120", "stage": "proposal", "name": "Deal"},
        version=1,
        actor=bob,
    )

    entries = service.history("opportunity", deal["id"])
    create, *updates = entries
    assert (create.action, create.field, create.changed_by, create.changed_at) == (
        "create",
        None,
        alice.user_id,
        NOW,
    )
    assert create.new_value["amount"] == "100.00" and create.new_value["number"] == "OPP-000001"
    assert {(e.field, e.old_value, e.new_value) for e in updates} == {
        ("amount", "100.00", "120.00"),
        ("stage", "initial_contact", "proposal"),
        ("net_amount", "100.00", "120.00"),
    }
    assert {(e.action, e.changed_by, e.changed_at) for e in updates} == {
        ("update", bob.user_id, NOW + dt.timedelta(minutes=5))
    }


# -- delete and restore ---------------------------------------------------------------------------


def test_soft_delete_hides_lists_and_restores(service, alice, account) -> None:
    deal = _deal(service, alice, account)
    service.delete("opportunity", deal["id"], actor=alice, version=1)

    with pytest.raises(NotFoundError):
        service.get("opportunity", deal["id"], actor=alice)
    assert service.list("opportunity", actor=alice).records == []
    [gone] = service.list("opportunity", actor=alice, deleted=True).records
    assert gone["id"] == deal["id"] and gone["deleted_at"] == NOW
    with pytest.raises(NotFoundError):
        service.update("opportunity", deal["id"], {"name": "x"}, version=2, actor=alice)

    back = service.restore("opportunity", deal["id"], actor=alice)
    assert back["deleted_at"] is None and back["version"] == 3
    assert [r["id"] for r in service.list("opportunity", actor=alice).records] == [deal["id"]]
    assert [e.action for e in service.history("opportunity", deal["id"])] == ["create", "delete", "restore"]


def test_delete_with_a_stale_version_is_a_conflict(service, alice, account) -> None:
    deal = _deal(service, alice, account)
    service.update("opportunity", deal["id"], {"name": "New"}, version=1, actor=alice)
    with pytest.raises(ConflictError):
        service.delete("opportunity", deal["id"], actor=alice, version=1)
    assert service.get("opportunity", deal["id"], actor=alice)["deleted_at"] is None


def test_missing_record_is_not_found(service, alice) -> None:
    with pytest.raises(NotFoundError, match="opportunity 404 does not exist"):
        service.update("opportunity", 404, {"name": "x"}, version=1, actor=alice)


# -- transactions and events ----------------------------------------------------------------------


def test_events_run_inside_the_write_and_can_roll_it_back(engine, clock) -> None:
    bus = EventBus()
    seen: list[RecordEvent] = []
    bus.subscribe(seen.append)
    service = make_service(engine, clock, events=bus)
    account = service.create("account", {"name": "Acme"}, actor=SYSTEM)
    assert seen[0].kind is EventKind.CREATED and seen[0].after == account and seen[0].depth == 0

    def refuse(event: RecordEvent) -> None:
        raise RuntimeError("rule failed")

    bus.subscribe(refuse)
    with pytest.raises(RuntimeError):
        service.update("account", account["id"], {"name": "Renamed"}, version=1, actor=SYSTEM)
    assert service.get("account", account["id"], actor=SYSTEM)["name"] == "Acme"
    assert seen[-1].kind is EventKind.UPDATED and seen[-1].changed == {"name"}


def test_handlers_writing_through_the_service_are_one_level_deeper(engine, clock) -> None:
    bus = EventBus()
    service = make_service(engine, clock, events=bus)
    depths: list[tuple[str, int]] = []

    def cascade(event: RecordEvent) -> None:
        depths.append((event.object, event.depth))
        if event.object == "account" and event.kind is EventKind.CREATED:
            service.create(
                "contact",
                {"name": "Auto", "account": event.record_id},
                actor=SYSTEM,
                connection=event.connection,
            )

    bus.subscribe(cascade)
    service.create("account", {"name": "Acme"}, actor=SYSTEM)
    assert depths == [("account", 0), ("contact", 1)]
    assert service.count("contact", actor=SYSTEM) == 1


def test_calls_sharing_a_connection_share_its_transaction(engine, service, alice) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        service.create("account", {"name": "A"}, actor=alice, connection=connection)
        service.create("account", {"name": "B"}, actor=alice, connection=connection)
        raise RuntimeError("abort")
    assert service.count("account", actor=alice) == 0


def test_a_guard_refuses_a_write_before_anything_is_written(engine, clock, alice) -> None:
    bus = EventBus()
    seen: list[RecordEvent] = []
    bus.subscribe(seen.append)
    service = make_service(engine, clock, events=bus)
    account = service.create("account", {"name": "Acme"}, actor=SYSTEM)
    intents: list[WriteIntent] = []

    def no_renames(intent: WriteIntent) -> None:
        intents.append(intent)
        if intent.kind is EventKind.UPDATED and "name" in intent.changes:
            raise ValidationError({"name": "is locked while an approval is pending"})

    remove = service.add_guard(no_renames)
    with pytest.raises(ValidationError) as excinfo:
        service.update("account", account["id"], {"name": "Renamed"}, version=1, actor=SYSTEM)
    assert _errors(excinfo) == {"name": "is locked while an approval is pending"}
    assert intents[-1].before == account and intents[-1].changes == {"name": "Renamed"}
    assert intents[-1].record_id == account["id"]
    stored = service.get("account", account["id"], actor=SYSTEM)
    assert stored["name"] == "Acme" and stored["version"] == 1
    assert [entry.action for entry in service.history("account", account["id"])] == ["create"]
    assert [event.kind for event in seen] == [EventKind.CREATED]

    remove()
    assert (
        service.update("account", account["id"], {"name": "Renamed"}, version=1, actor=SYSTEM)["version"] == 2
    )


def test_a_write_undone_by_its_handler_leaves_the_callers_transaction_usable(engine, clock, alice) -> None:
    bus = EventBus()
    service = make_service(engine, clock, events=bus)

    def refuse(event: RecordEvent) -> None:
        if event.after and event.after["name"] == "Refused":
            raise ValidationError({"name": "refused by a rule"})

    bus.subscribe(refuse)
    with engine.begin() as connection:
        kept = service.create("account", {"name": "Kept"}, actor=alice, connection=connection)
        # The insert of "Refused" reaches the database before its handler refuses it.
        with pytest.raises(ValidationError):
            service.create("account", {"name": "Refused"}, actor=alice, connection=connection)
        service.update(
            "account", kept["id"], {"name": "Kept too"}, version=1, actor=alice, connection=connection
        )
    names = [r["name"] for r in service.list("account", actor=alice).records]
    assert names == ["Kept too"]


def test_version_may_come_as_text_from_a_form_or_header(service, alice, account) -> None:
    deal = _deal(service, alice, account)
    assert (
        service.update("opportunity", deal["id"], {"name": "B"}, version='"1"', actor=alice)["version"] == 2
    )
    with pytest.raises(ValidationError) as excinfo:
        service.update("opportunity", deal["id"], {"name": "C"}, version="latest", actor=alice)
    assert _errors(excinfo) == {"version": "expected the version number you edited, got 'latest'"}


# -- coercion of single values (no database) ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "expected"),
    [
        (Field("b", FieldType.BOOLEAN), "Yes", True),
        (Field("b", FieldType.BOOLEAN), "0", False),
        (Field("b", FieldType.BOOLEAN), "off", False),
        (Field("n", FieldType.INTEGER), "  42 ", 42),
        (Field("n", FieldType.INTEGER), 3.0, 3),
        (Field("m", FieldType.MONEY), 0.1, Decimal("0.10")),
        (Field("m", FieldType.MONEY), "-5", Decimal("-5.00")),
        (Field("d", FieldType.DATE), "2024-02-29", dt.date(2024, 2, 29)),
        (Field("t", FieldType.DATETIME), "2024-05-01T08:00:00Z", dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)),
        (Field("t", FieldType.DATETIME), "2024-05-01 08:00", dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)),
        (Field("u", FieldType.URL), " https://example.com/a ", "https://example.com/a"),
        (Field("p", FieldType.PHONE), "+86 (21) 5555-0100", "+86 (21) 5555-0100"),
        (Field("c", FieldType.CHOICE, choices=(Choice("a"), Choice("b"))), "b", "b"),
        (Field("x", FieldType.TEXT), "", None),
        (Field("l", FieldType.LOOKUP, to="account"), "12", 12),
    ],
)
def test_coerce_value_accepts_what_forms_and_json_send(field: Field, raw, expected) -> None:
    assert coerce_value(field, raw) == expected


@pytest.mark.parametrize(
    ("field", "raw", "message"),
    [
        (Field("b", FieldType.BOOLEAN), "maybe", "expected yes or no (true/false), got 'maybe'"),
        (Field("n", FieldType.INTEGER), True, "expected a whole number, got True"),
        (Field("m", FieldType.MONEY), "1e30", "is too large"),
        (Field("m", FieldType.MONEY), "NaN", "expected a number, got 'NaN'"),
        (Field("d", FieldType.DATE), "2024-02-30", "expected a date (YYYY-MM-DD), got '2024-02-30'"),
        (Field("l", FieldType.LOOKUP, to="account"), "-3", "expected the id of an account, got '-3'"),
        (
            Field("c", FieldType.CHOICE, choices=(Choice("red"), Choice("green"))),
            "blue",
            "choose from red, green",
        ),
    ],
)
def test_coerce_value_names_the_problem(field: Field, raw, message: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        coerce_value(field, raw)
    assert message in str(excinfo.value)
