-- Seeding, last step: identity sequences continue after the seeded ids (rows were inserted with
-- explicit ids), so the application's own inserts work; then the helper schema goes.
select setval(pg_get_serial_sequence('app.tenants', 'tenant_id'), coalesce((select max(tenant_id) from app.tenants), 0) + 1, false),
       setval(pg_get_serial_sequence('app.users', 'id'), coalesce((select max(id) from app.users), 0) + 1, false),
       setval(pg_get_serial_sequence('app.user_sessions', 'id'), coalesce((select max(id) from app.user_sessions), 0) + 1, false),
       setval(pg_get_serial_sequence('app.connectors', 'id'), coalesce((select max(id) from app.connectors), 0) + 1, false),
       setval(pg_get_serial_sequence('app.collections', 'id'), coalesce((select max(id) from app.collections), 0) + 1, false),
       setval(pg_get_serial_sequence('app.documents', 'id'), coalesce((select max(id) from app.documents), 0) + 1, false),
       setval(pg_get_serial_sequence('app.deleted_documents', 'id'), coalesce((select max(id) from app.deleted_documents), 0) + 1, false),
       setval(pg_get_serial_sequence('app.chunks', 'id'), coalesce((select max(id) from app.chunks), 0) + 1, false),
       setval(pg_get_serial_sequence('app.operations', 'id'), coalesce((select max(id) from app.operations), 0) + 1, false),
       setval(pg_get_serial_sequence('app.conversations', 'id'), coalesce((select max(id) from app.conversations), 0) + 1, false),
       setval(pg_get_serial_sequence('app.messages', 'id'), coalesce((select max(id) from app.messages), 0) + 1, false),
       setval(pg_get_serial_sequence('app.knowledge_gaps', 'id'), coalesce((select max(id) from app.knowledge_gaps), 0) + 1, false),
       setval(pg_get_serial_sequence('app.gap_answers', 'id'), coalesce((select max(id) from app.gap_answers), 0) + 1, false),
       setval(pg_get_serial_sequence('app.agents', 'id'), coalesce((select max(id) from app.agents), 0) + 1, false),
       setval(pg_get_serial_sequence('app.workflows', 'id'), coalesce((select max(id) from app.workflows), 0) + 1, false),
       setval(pg_get_serial_sequence('app.workflow_tasks', 'id'), coalesce((select max(id) from app.workflow_tasks), 0) + 1, false);

drop schema seed cascade;
