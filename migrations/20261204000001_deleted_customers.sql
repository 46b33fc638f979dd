-- Stripe customers that are gone for good (`customer.deleted`, or Stripe answering that it no
-- longer knows one). Their link to a user stays, so late events about them still find the user,
-- but no page offers them again, and late events cannot bring their subscriptions back.
CREATE TABLE stripe_deleted_customers (
    customer_id TEXT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
