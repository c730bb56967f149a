-- Sales warehouse (Redshift Serverless in AWS, a separate PostgreSQL database locally).
-- Kept to the dialect both accept. Redshift treats the primary key as informational (not enforced):
-- idempotency comes from the insert's NOT EXISTS guard; locally PostgreSQL also enforces the key.
CREATE TABLE IF NOT EXISTS sales_fact (
    order_id     VARCHAR(64) NOT NULL,
    line_no      INTEGER NOT NULL,
    order_time   TIMESTAMP NOT NULL,
    customer_id  VARCHAR(64) NOT NULL,
    sku          VARCHAR(64) NOT NULL,
    quantity     INTEGER NOT NULL,
    unit_price   DECIMAL(12, 2) NOT NULL,
    amount       DECIMAL(14, 2) NOT NULL,
    currency     CHAR(3) NOT NULL,
    region       VARCHAR(32) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
