-- Working-day calendar: the system administrator's additions and corrections to the arrangement
-- embedded in the calendar crate (2004–2026). One row per date it changes; the row wins over the
-- embedded entry for the same date:
--   holiday: the date is a day off (法定节假日 / 调休放假), whatever the embedded data says,
--   workday: the date is a make-up working day (调休上班), whatever the embedded data says,
--   normal:  the date follows the weekday rule (Monday–Friday work) even if the embedded data
--            lists it (kept only for dates the embedded data lists).
-- Deleting a row restores the embedded entry (or, without one, the weekday rule). Rows that
-- would say the same as the embedded data are not kept.
CREATE TABLE calendar_days (
    -- YYYY-MM-DD, local (China) date.
    day TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    festival TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The administrator's username.
    updated_by TEXT NOT NULL,
    CONSTRAINT calendar_days_kind_check CHECK (kind IN ('holiday', 'workday', 'normal'))
);

-- One row, rewritten in every transaction that changes calendar_days. `stamp` is a fresh random
-- value per change, so a process compares one short string with the stamp of its cached
-- calendar to notice a change made by any process; `version` counts changes and `changed_at`
-- says when the last one happened (both for people).
CREATE TABLE calendar_version (
    id BIGINT PRIMARY KEY,
    version BIGINT NOT NULL,
    stamp TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

INSERT INTO calendar_version (id, version, stamp, changed_at) VALUES (1, 0, 'initial', 0);
