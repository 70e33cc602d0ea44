--! Previous: sha1:f79414555fac56041fb23e4f3e047ef7e6bd8e7d
--! Hash: sha1:649eda1fbcd72dd0e458c7f22f40cd72a48729ff
--! Message: user_sessions: index (tenant_id, user_id) for api.revoke_user_sessions and the foreign key to users, built concurrently

--! no-transaction
create index concurrently if not exists user_sessions_tenant_id_user_id_idx on app.user_sessions (tenant_id, user_id);
