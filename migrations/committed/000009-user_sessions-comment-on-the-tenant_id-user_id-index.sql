--! Previous: sha1:649eda1fbcd72dd0e458c7f22f40cd72a48729ff
--! Hash: sha1:23eda95b703546e964cb085606219dec812c4384
--! Message: user_sessions: comment on the (tenant_id, user_id) index

set local lock_timeout = '5s';

comment on index app.user_sessions_tenant_id_user_id_idx is
  'api.revoke_user_sessions: every session of a user (tenant_id, user_id); also the foreign key (tenant_id, user_id) to app.users, whose on delete cascade would otherwise read all of user_sessions per deleted user.';
