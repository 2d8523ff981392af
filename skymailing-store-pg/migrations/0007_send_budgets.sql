-- One send rate for the whole service: a token bucket per relay that every
-- process sending through it takes from.
CREATE TABLE send_budgets (
    relay      TEXT PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
