// Migration safety: squawk lints every committed migration (npm run lint:migrations, the
// rules of .squawk.toml, docs/operations.md "Migration rules"), the chosen rules catch what
// they must (an index built without CONCURRENTLY on a table that exists, a no-transaction
// migration of more than one statement, an ALTER without lock_timeout) and let the safe forms
// pass, and the partitioned-table recipe (an index ON ONLY the parent, CONCURRENTLY on each
// partition in a `--! no-transaction` migration of its own, then ATTACH) passes squawk AND
// really runs through graphile-migrate on a copy of the seeded database.
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger, migrate } from "graphile-migrate";
import { calculateHash } from "graphile-migrate/dist/hash.js";
import {
  parseMigrationText,
  serializeMigration,
} from "graphile-migrate/dist/migration.js";
import { clearAllPools } from "graphile-migrate/dist/pgReal.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ROOT } from "../scripts/lib/sql-files.ts";
import {
  COMMITTED,
  committedMigrations,
  lintMigrations,
  type Violation,
} from "../scripts/lint-migrations.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("migration_safety");

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "querybudget-migrations-"));
  mkdirSync(join(dir, "committed"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writes committed migrations after the real ones, with the Previous/Hash chain graphile-migrate checks. */
function commitFixtures(
  folder: string,
  bodies: { name: string; body: string }[],
): string[] {
  rmSync(join(folder, "committed"), { recursive: true, force: true });
  mkdirSync(join(folder, "committed"), { recursive: true });
  let previous: string | null = null;
  let number = 0;
  for (const file of committedMigrations()) {
    const text = readFileSync(file, "utf8");
    writeFileSync(
      join(folder, "committed", file.slice(COMMITTED.length + 1)),
      text,
    );
    previous = parseMigrationText(file, text).headers.Hash ?? null;
    number++;
  }
  return bodies.map(({ name, body }) => {
    number++;
    const normalized = `${body.trim()}\n`;
    const hash = calculateHash(normalized, previous);
    const path = join(
      folder,
      "committed",
      `${String(number).padStart(6, "0")}-${name}.sql`,
    );
    writeFileSync(
      path,
      serializeMigration(normalized, {
        Previous: previous ?? "-",
        Hash: hash,
        Message: name,
      }),
    );
    previous = hash;
    return path;
  });
}

const rulesOf = (violations: Violation[]) =>
  [...new Set(violations.map((v) => v.rule))].sort();

const PARTITIONS = Array.from(
  { length: 16 },
  (_, i) => `chunks_p${String(i).padStart(2, "0")}`,
);
const INDEX = "chunks_tenant_id_collection_id_size_idx";
const COLUMNS = "(tenant_id, collection_id, size)";

/** The partitioned-table recipe of docs/operations.md, as graphile-migrate migrations. */
const recipe = [
  {
    name: "chunks-size-index-parent",
    body: `
set local lock_timeout = '5s';
-- ON ONLY the partitioned parent: an invalid index in the catalog, nothing is built, no rows are
-- locked; the partitions' indexes are built concurrently by the next migrations, then attached.
-- squawk-ignore require-concurrent-index-creation
create index if not exists ${INDEX} on only app.chunks ${COLUMNS};`,
  },
  ...PARTITIONS.map((p) => ({
    name: `chunks-size-index-${p}`,
    body: `--! no-transaction
create index concurrently if not exists ${p}_tenant_id_collection_id_size_idx on app.${p} ${COLUMNS};`,
  })),
  {
    name: "chunks-size-index-attach",
    body: `set local lock_timeout = '5s';\n${PARTITIONS.map((p) => `alter index app.${INDEX} attach partition app.${p}_tenant_id_collection_id_size_idx;`).join("\n")}`,
  },
];

describe("squawk on the committed migrations", () => {
  test("npm run lint:migrations passes (what CI runs)", () => {
    const r = spawnSync("npm", ["run", "--silent", "lint:migrations"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.stdout + r.stderr).toMatch(
      /lint:migrations: \d+ migrations? checked by squawk, 0 violations/,
    );
    expect(r.status, r.stdout).toBe(0);
  });

  test("every committed migration is linted, and none has a violation", () => {
    const files = committedMigrations();
    expect(files.length).toBeGreaterThan(0);
    expect(lintMigrations(files)).toEqual([]);
  });
});

describe("the rules catch unsafe migrations and pass the safe forms", () => {
  test("an index on an existing table, built in the migration's transaction, is refused", () => {
    const [file] = commitFixtures(join(dir, "naive"), [
      {
        name: "documents-title-index",
        body: `set local lock_timeout = '5s';\ncreate index documents_tenant_id_title_idx on app.documents (tenant_id, title);`,
      },
    ]);
    expect(rulesOf(lintMigrations([file!]))).toEqual([
      "require-concurrent-index-creation",
    ]);
  });

  test("the same on a partitioned table (it would build every partition under a SHARE lock) is refused", () => {
    const [file] = commitFixtures(join(dir, "naive-partitioned"), [
      {
        name: "chunks-size-index",
        body: `set local lock_timeout = '5s';\ncreate index if not exists ${INDEX} on app.chunks ${COLUMNS};`,
      },
    ]);
    expect(rulesOf(lintMigrations([file!]))).toEqual([
      "require-concurrent-index-creation",
    ]);
  });

  test("a --! no-transaction migration with more than one statement is refused (it would run in one implicit transaction)", () => {
    const [file] = commitFixtures(join(dir, "two-statements"), [
      {
        name: "two-indexes",
        body: `--! no-transaction
create index concurrently if not exists documents_tenant_id_title_idx on app.documents (tenant_id, title);
create index concurrently if not exists documents_tenant_id_created_at_idx on app.documents (tenant_id, created_at);`,
      },
    ]);
    expect(rulesOf(lintMigrations([file!]))).toEqual([
      "ban-concurrent-index-creation-in-transaction",
    ]);
  });

  test("a change to an existing table without lock_timeout, or a foreign key validated at once, is refused", () => {
    const [file] = commitFixtures(join(dir, "alter"), [
      {
        name: "documents-owner",
        body: `alter table app.documents add column owner_id bigint;
alter table app.documents add constraint documents_owner_fkey foreign key (tenant_id, owner_id) references app.users;`,
      },
    ]);
    expect(rulesOf(lintMigrations([file!]))).toEqual([
      "adding-foreign-key-constraint",
      "constraint-missing-not-valid",
      "require-lock-timeout",
    ]);
  });

  test("a new table with its indexes and keys in the same migration passes (the rules for existing tables do not apply)", () => {
    const [file] = commitFixtures(join(dir, "new-table"), [
      {
        name: "document-labels",
        body: `set local lock_timeout = '5s';
create table app.document_labels (
  tenant_id bigint not null,
  id bigint generated by default as identity,
  document_id bigint not null,
  label text not null,
  primary key (tenant_id, id),
  foreign key (tenant_id, document_id) references app.documents
);
create index document_labels_tenant_id_document_id_idx on app.document_labels (tenant_id, document_id);`,
      },
    ]);
    expect(lintMigrations([file!])).toEqual([]);
  });

  test("a concurrent index build in a --! no-transaction migration of its own passes", () => {
    const [file] = commitFixtures(join(dir, "concurrent"), [
      {
        name: "documents-title-index",
        body: `--! no-transaction
create index concurrently if not exists documents_tenant_id_title_idx on app.documents (tenant_id, title);`,
      },
    ]);
    expect(lintMigrations([file!])).toEqual([]);
  });
});

describe("the partitioned-table recipe", () => {
  test("passes squawk, and graphile-migrate runs it on the seeded database: a valid index on every partition", async () => {
    const folder = join(dir, "recipe");
    const files = commitFixtures(folder, recipe);
    expect(lintMigrations(files)).toEqual([]);

    // The copy of the template has the committed migrations applied; these come on top.
    try {
      await migrate({
        connectionString: db().url,
        migrationsFolder: folder,
        logger: new Logger(() => () => {}),
      });
    } finally {
      clearAllPools();
    }
    const sql = db().sql;
    const [parent] = await sql<{ valid: boolean; partitions: number }[]>`
      select i.indisvalid as valid,
             (select count(*)::int from pg_inherits h where h.inhparent = i.indexrelid) as partitions
      from pg_index i where i.indexrelid = ${`app.${INDEX}`}::regclass`;
    expect(parent).toEqual({ valid: true, partitions: PARTITIONS.length });
    const invalid = await sql<{ index: string }[]>`
      select i.indexrelid::regclass::text as index from pg_index i
      join pg_class c on c.oid = i.indexrelid where c.relnamespace = 'app'::regnamespace and not i.indisvalid`;
    expect(invalid).toEqual([]);
    const [applied] = await sql<
      { n: number }[]
    >`select count(*)::int as n from graphile_migrate.migrations`;
    expect(applied!.n).toBe(committedMigrations().length + recipe.length);
    // And the planner uses it for a query on the partition key and size.
    const [{ "QUERY PLAN": plan }] = (await sql.unsafe(
      `explain (format json) select count(*) from app.chunks where tenant_id = 1 and collection_id = 1 and size < 10`,
    )) as unknown as [{ "QUERY PLAN": unknown }];
    expect(JSON.stringify(plan)).toContain("_tenant_id_collection_id_size_idx");
  });
});
