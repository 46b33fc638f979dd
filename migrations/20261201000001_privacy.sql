-- Privacy: identity links are *claimed* (made from a replay the user uploaded; they count only
-- that user's own uploads) or *verified* (the identity is proven to be the user's, e.g. by a
-- Discord connected account; it then counts every game it played in, whoever uploaded it).
-- A verified identity belongs to exactly one user. Existing links stay, as claimed.
ALTER TABLE user_identities ADD COLUMN verified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_identities ADD COLUMN verified_at BIGINT;
CREATE UNIQUE INDEX user_identities_one_owner ON user_identities (platform, platform_id) WHERE verified = 1;

-- 1 when the answer to an upload is private to the uploader (DM, ephemeral /analyze, or a server
-- in private reply mode): it then never goes to a channel, and only the uploader can open its
-- buttons. 0: the answer was posted in `channel_id`, where anyone can open its cards.
ALTER TABLE uploads ADD COLUMN private_reply BIGINT NOT NULL DEFAULT 0;
UPDATE uploads SET private_reply = 1 WHERE guild_id IS NULL;
UPDATE uploads SET private_reply = 1
 WHERE interaction_token IS NOT NULL
   AND guild_id IN (SELECT guild_id FROM guilds WHERE reply_mode = 'private');
-- Answered interactions no longer need their token (a credential for 15 minutes).
UPDATE uploads SET interaction_token = NULL WHERE delivered_at IS NOT NULL;
