-- app.deleted_documents: rows / 100 tombstones. Tombstone j looks at document
-- (j * 2147483647) mod documents + 1 (a permutation: no document twice):
--   - a connector document: its external id, tombstoned in ANOTHER connector of its tenant
--     (the id exists, but not in that connector, so it never hides a live document);
--   - any other document: a tombstone in one of that tenant's connectors for an external id
--     that exists nowhere ('ext-<documents + j>', beyond every document id).
-- Tenants follow the documents' skew (tenant 1 about half). deleted_at: anywhere in the window.
insert into app.deleted_documents (tenant_id, id, connector_id, external_id, deleted_at)
select d.tenant_id,
       r.j,
       case when d.connector_id is not null
            then 3 * (d.tenant_id - 1) + 1 + (d.connector_id - 3 * (d.tenant_id - 1) + floor(2 * r.u_connector)::bigint) % 3
            else 3 * (d.tenant_id - 1) + 1 + floor(3 * r.u_connector)::bigint
       end,
       coalesce(d.external_id, format('ext-%s', p.documents + r.j)),
       seed.at(r.u_at)
from seed.params p
cross join (
  select g.j,
         (g.j * 2147483647) % p.documents + 1 as document_id,
         seed.u(g.j, 2401) as u_connector,
         seed.u(g.j, 2402) as u_at
  from seed.params p
  cross join generate_series(1, current_setting('seed.deleted_documents')::bigint) g(j)
  offset 0
) r
join app.documents d on d.id = r.document_id;
