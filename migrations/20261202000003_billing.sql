-- Pro billing: Stripe customers, subscriptions and processed events; Discord entitlements.
-- Each source's state decides its own `user_plans` row ('stripe', 'discord').

-- Every Stripe event applied, inserted in the same transaction as its effects: a second
-- delivery of the same id finds it and changes nothing.
CREATE TABLE stripe_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

-- A Stripe customer belongs to one Discord user (from the Checkout Session's
-- `client_reference_id`); later checkouts of that user reuse it.
CREATE TABLE stripe_customers (
    customer_id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX stripe_customers_user ON stripe_customers (user_id, created_at);

-- The newest state seen of each subscription. `state_at` (ms, from the event's `created`)
-- orders states; a terminal status (canceled, incomplete_expired) is never replaced.
-- Periods in ms; `paid_until`: the end of the latest period paid for (a past-due subscription
-- keeps Pro for a grace period after it). `user_id` is NULL while the customer is not linked to a user yet (an event
-- that overtook `checkout.session.completed`). `notice`: 'past_due' while the user is owed a
-- message that a payment failed.
CREATE TABLE stripe_subscriptions (
    subscription_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    user_id BIGINT,
    status TEXT NOT NULL,
    cancel_at_period_end BIGINT NOT NULL DEFAULT 0,
    cancel_at BIGINT,
    period_start BIGINT,
    period_end BIGINT,
    paid_until BIGINT,
    state_at BIGINT NOT NULL,
    notice TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX stripe_subscriptions_user ON stripe_subscriptions (user_id);
CREATE INDEX stripe_subscriptions_customer ON stripe_subscriptions (customer_id);

-- Discord App Subscription entitlements (times in ms; NULL: open-ended).
CREATE TABLE discord_entitlements (
    entitlement_id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    sku_id BIGINT NOT NULL,
    starts_at BIGINT,
    ends_at BIGINT,
    deleted BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX discord_entitlements_user ON discord_entitlements (user_id);
