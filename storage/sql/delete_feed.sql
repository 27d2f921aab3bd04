-- A feed that was never shown (its impressions go with it).
DELETE FROM feeds WHERE request_id = $1
