-- app.chunks: rows rows, 10 per document (chunk_index 0..9; the last document has fewer when
-- rows is not a multiple of 10). Chunk id (document - 1) * 10 + chunk_index + 1, so chunks are
-- inserted in id order, document by document, with their document's tenant and collection.
-- content is a short placeholder (md5), size the realistic length (seed.chunk_size, 100..2000).
insert into app.chunks (tenant_id, collection_id, id, document_id, chunk_index, content, size, created_at)
select d.tenant_id,
       d.collection_id,
       c.id,
       d.id,
       k.k,
       format('chunk %s of document %s: %s', k.k, d.id, md5(format('chunk:%s:%s', p.seed, c.id))),
       seed.chunk_size(c.id),
       d.created_at + k.k * interval '50 milliseconds'
from seed.params p
cross join app.documents d
cross join generate_series(0, 9) k(k)
cross join lateral (select (d.id - 1) * 10 + k.k + 1 as id) c
where c.id <= p.rows;
