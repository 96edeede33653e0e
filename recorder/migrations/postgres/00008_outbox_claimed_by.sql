-- webhook_outbox.claimed_by is the cluster node holding a row it is
-- sending ('' on a single node), so that another node can take the row
-- back as soon as that node is dead instead of after the row's lease
-- (recorder/webhook: Delivery.SetNode).
-- +goose Up
ALTER TABLE webhook_outbox ADD COLUMN IF NOT EXISTS claimed_by varchar(26) NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_outbox DROP COLUMN IF EXISTS claimed_by;
