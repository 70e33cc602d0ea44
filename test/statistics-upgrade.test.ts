// The upgrade from the per-collection materialized view (issue 12, item 5): a database at the
// previous migration (000011: the view app.collection_stats and its refresh function, the
// totals tables without the count maps, and totals that were never rebuilt: the api reads
// zeros), with the seeded data, is migrated; afterwards the view and its refresh are gone, the
// totals are exact (perf.collection_stats_drift() empty) and the default statistics equal the
// fresh ones. The state before is made from the current database by undoing what migration
// 000012 does, then forgetting that it ran.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { ROOT } from "../scripts/lib/sql-files.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("statistics-upgrade");

const RETIRING = readdirSync(join(ROOT, "migrations", "committed")).find((f) =>
  /^\d+-collection-statistics-documents-by-status/.test(f),
)!;
/** graphile-migrate records a committed migration by its number: "000012.sql". */
const RECORDED = `${RETIRING?.slice(0, 6)}.sql`;

describe("migrating a database with app.collection_stats to the maintained statistics", () => {
  test("the view and its refresh go, the totals are rebuilt in the migration: drift empty, default equals fresh", async () => {
    // Setup: the database as migration 000011 left it, with data
    const { sql, url } = db();
    expect(RETIRING).toBeDefined();
    await sql.begin(async (tx) => {
      // forgotten with every later migration (they follow it in the hash chain; each is idempotent)
      await tx`delete from graphile_migrate.migrations where filename >= ${RECORDED}`;
      await tx`drop materialized view if exists app.tenant_overview`;
      await tx`drop table maint.collection_stat_folds`;
      await tx`alter table app.collection_stat_deltas drop column documents_by_status, drop column operations_by_type_status`;
      await tx`alter table app.collection_stat_totals drop column documents_by_status, drop column operations_by_type_status`;
      // totals never rebuilt since 000011 made them (an existing database): the api read zeros
      await tx`delete from app.collection_stat_totals`;
      await tx`delete from app.collection_stat_deltas`;
      // the view of the previous version, populated, and its refresh function
      await tx.unsafe(`
        create materialized view app.collection_stats as
          select c.tenant_id, c.id as collection_id,
                 (select count(*) from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id) as chunks_total,
                 now() as refreshed_at
          from app.collections c;
        create unique index collection_stats_tenant_id_collection_id_idx on app.collection_stats (tenant_id, collection_id);
        create function maint.refresh_collection_stats() returns interval language sql
          as $$ refresh materialized view concurrently app.collection_stats; select interval '0' $$;
        create function maint.rebuild_collection_stat_totals() returns bigint language sql as 'select 0::bigint';`);
    });
    const [before] = await sql<{ view: boolean; drift: number }[]>`
      select to_regclass('app.collection_stats') is not null as view,
             (select count(*)::int from app.collections c
              where exists (select from app.chunks k where k.tenant_id = c.tenant_id and k.collection_id = c.id)
                and (api.collection_statistics(c.tenant_id, c.id) -> 'chunks' ->> 'total')::int = 0) as drift`;
    expect(before!.view).toBe(true);
    // the state before is wrong for real: collections with chunks read 0 chunks
    expect(before!.drift).toBeGreaterThan(10);

    // Action
    await migrateDatabase(url, { quiet: true });

    // Assertions
    const after = sql;
    const [gone] = await after<
      {
        view: boolean;
        refresh: boolean;
        old_rebuild: boolean;
        migrated: boolean;
        overview: boolean;
      }[]
    >`
      select to_regclass('app.collection_stats') is null as view,
             to_regprocedure('maint.refresh_collection_stats()') is null as refresh,
             to_regprocedure('maint.rebuild_collection_stat_totals()') is null as old_rebuild,
             exists (select from graphile_migrate.migrations where filename = ${RECORDED}) as migrated,
             to_regclass('app.tenant_overview') is not null as overview`;
    expect(gone).toEqual({
      view: true,
      refresh: true,
      old_rebuild: true,
      migrated: true,
      overview: true,
    });
    expect(await after`select * from perf.collection_stats_drift()`).toEqual(
      [],
    );
    const differing = await after<{ id: string }[]>`
      select c.id::text from app.collections c
      where (api.collection_statistics(c.tenant_id, c.id) - 'as_of') <> (api.collection_statistics(c.tenant_id, c.id, true) - 'as_of')`;
    expect(differing).toEqual([]);
  });
});
