-- The audit trail becomes several hash chains. A transaction holds its chain's head from its
-- append to its commit, so with one chain PostgreSQL's concurrent writers committed one at a
-- time, each waiting for the one before to flush. Now each takes a head no one holds. Rows keep
-- one sequence over all chains, so that searching and export still read in order of `seq`;
-- within a chain the sequence rises but has gaps (other chains' rows, rolled-back numbers),
-- and each row's `prev_hash` is that of the row before it in its own chain. SQLite has one
-- writer and keeps to chain 1. `chain` has no index of its own: every write appends audit rows,
-- and verification walks all of them once in order of `seq` anyway.
ALTER TABLE audit_log ADD COLUMN chain BIGINT NOT NULL DEFAULT 1;

INSERT INTO audit_head (id, seq, hash, purged_through, purged_hash)
VALUES (2, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000'),
       (3, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000'),
       (4, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0,
        '0000000000000000000000000000000000000000000000000000000000000000');

-- PostgreSQL only
CREATE SEQUENCE audit_seq;

-- PostgreSQL only
SELECT setval('audit_seq', (SELECT seq FROM audit_head WHERE id = 1) + 1, false);
