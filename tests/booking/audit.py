"""A trigger-backed audit of the quota invariant, installed into a test's own schema.

A deferred constraint trigger runs at commit of every transaction that books a unit or gives
one back (insert, cancel, no-show). Such a transaction holds the lock on the booking's stripe
row until it commits, so at that instant nobody else can change that stripe's bookings: the
live count the trigger records is exact, not a sample. The test then asserts over every
recorded commit that live == taken <= capacity for the stripe, and live <= quota for the
pickup point.
"""

from __future__ import annotations

from tests.booking.conftest import BookingWorld

_INSTALL = [
    """
    CREATE TABLE quota_audit (
        id bigserial PRIMARY KEY,
        stripe_id bigint NOT NULL,
        point_id uuid NOT NULL,
        stripe_live int NOT NULL,
        stripe_taken int NOT NULL,
        stripe_capacity int NOT NULL,
        point_live int NOT NULL,
        point_quota int NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
    )
    """,
    """
    CREATE FUNCTION audit_quota() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        stripe record;
        live int;
        point_live int;
        point_quota int;
    BEGIN
        SELECT capacity, taken INTO stripe FROM quota_stripes WHERE id = NEW.stripe_id;
        SELECT count(*) INTO live FROM bookings
         WHERE stripe_id = NEW.stripe_id AND status IN ('confirmed', 'redeemed');
        SELECT count(*) INTO point_live FROM bookings
         WHERE point_id = NEW.point_id AND status IN ('confirmed', 'redeemed');
        SELECT sum(capacity) INTO point_quota FROM quota_stripes WHERE point_id = NEW.point_id;
        INSERT INTO quota_audit (stripe_id, point_id, stripe_live, stripe_taken,
                                 stripe_capacity, point_live, point_quota)
        VALUES (NEW.stripe_id, NEW.point_id, live, stripe.taken, stripe.capacity,
                point_live, point_quota);
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER quota_audit_on_book AFTER INSERT ON bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_quota()
    """,
    """
    CREATE CONSTRAINT TRIGGER quota_audit_on_release AFTER UPDATE OF status ON bookings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.status IN ('cancelled', 'no_show'))
    EXECUTE FUNCTION audit_quota()
    """,
]


async def install_quota_audit(world: BookingWorld) -> None:
    for statement in _INSTALL:
        await world.sql(statement)


async def assert_quota_never_exceeded(world: BookingWorld, *, expected_commits: int) -> None:
    (audited, stripe_over, drift, point_over) = (
        await world.sql(
            """
            SELECT count(*),
                   count(*) FILTER (WHERE stripe_live > stripe_capacity),
                   count(*) FILTER (WHERE stripe_live <> stripe_taken),
                   count(*) FILTER (WHERE point_live > point_quota)
            FROM quota_audit
            """
        )
    )[0]
    assert audited >= expected_commits, "the audit trigger did not see every commit"
    assert stripe_over == 0, f"{stripe_over} commits left a stripe over its capacity"
    assert drift == 0, f"{drift} commits left a stripe's taken count unequal to its bookings"
    assert point_over == 0, f"{point_over} commits saw a point over its quota"
