-- $1: an index follower's horizon (an xid8 as bigint). Papers withdrawn by a transaction from
-- there on: the ones a server may still hold in its index, which no feed may show.
SELECT seq FROM papers WHERE changed_xid >= $1::bigint::text::xid8 AND withdrawn_at IS NOT NULL
