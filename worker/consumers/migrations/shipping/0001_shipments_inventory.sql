-- Shipping database (RDS PostgreSQL in AWS, the local launcher's server in tests and the demo).
CREATE TABLE IF NOT EXISTS inventory (
    sku         VARCHAR(64) PRIMARY KEY,
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One shipment per order: the primary key is what makes a redelivered event a no-op.
CREATE TABLE IF NOT EXISTS shipments (
    order_id     VARCHAR(64) PRIMARY KEY,
    customer_id  VARCHAR(64) NOT NULL,
    status       VARCHAR(16) NOT NULL CHECK (status IN ('ready', 'backordered')),
    total        NUMERIC(14, 2) NOT NULL,
    currency     CHAR(3) NOT NULL,
    region       VARCHAR(32) NOT NULL,
    ordered_at   TIMESTAMPTZ NOT NULL,
    invoice_key  VARCHAR(1024) NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Per SKU of a shipment: how many were ordered and whether stock was allocated (false = backordered).
CREATE TABLE IF NOT EXISTS shipment_lines (
    order_id   VARCHAR(64) NOT NULL REFERENCES shipments (order_id),
    sku        VARCHAR(64) NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    allocated  BOOLEAN NOT NULL,
    PRIMARY KEY (order_id, sku)
);

CREATE INDEX IF NOT EXISTS shipments_backordered ON shipments (created_at) WHERE status = 'backordered';
