// The container path, end to end (issue 16): QB_SERVER=container through provisionServer, on
// an engine that answers or on the dockerd the harness starts itself (scripts/bootstrap.mjs
// installs Debian's docker.io and debootstrap for `npm test` as root), the image of
// docker/Dockerfile on a Debian base (pulled, or made with debootstrap where no registry
// answers). Then what the local cluster's suite does, in small: migrate, seed 10k, the api's
// reads and writes as querybudget_app, and the server checked from inside: Debian's packages,
// the settings of scripts/lib/server-settings.ts from the image's own file, the test-only speed
// settings from the command line only, pg_cron's launcher running, every extension loadable.
// Last, stopping leaves nothing behind: no container of ours, no intermediate build container,
// no dangling image, and no dockerd if this run started it. What it keeps is the tagged image
// and its layer cache (keyed by the Dockerfile and its files: a changed Dockerfile rebuilds).
//
// The rest of the suite runs on the local cluster (test/harness/global-setup.ts) at the same
// time; the local server it provides is the reference the container's settings and extension
// versions are compared with.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import {
  readServerFacts,
  serverProblems,
} from "../scripts/lib/check-server.ts";
import {
  docker,
  IMAGE,
  IMAGE_LABEL,
  MADE_BASE,
} from "../scripts/lib/container-image.ts";
import {
  CONTAINER_ROLE_LABEL,
  type ContainerServer,
} from "../scripts/lib/container.ts";
import {
  engineAnswers,
  harnessDockerdPid,
} from "../scripts/lib/docker-engine.ts";
import { elapsed, log } from "../scripts/lib/log.ts";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { seedDatabase } from "../scripts/lib/seed.ts";
import { provisionServer } from "../scripts/lib/server.ts";
import {
  REQUIRED_EXTENSIONS,
  PRELOAD_LIBRARIES,
} from "../scripts/lib/server-contract.ts";
import {
  IMAGE_SETTINGS,
  TEST_ONLY_SPEED,
} from "../scripts/lib/server-settings.ts";
import { apiCalls } from "../scripts/lib/workload.ts";
import { connectAs } from "./harness/roles.ts";

const ROWS = 10_000;
const IMAGE_CONF = "/etc/querybudget/querybudget.conf";

let server: ContainerServer | undefined;
let sql: postgres.Sql;
let stopped = false;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const started = performance.now();
  const saved = process.env.QB_SERVER;
  process.env.QB_SERVER = "container";
  try {
    server = (await provisionServer()) as ContainerServer;
  } finally {
    if (saved === undefined) delete process.env.QB_SERVER;
    else process.env.QB_SERVER = saved;
  }
  Object.assign(timings, server.timings);
  let t = performance.now();
  await migrateDatabase(server.url, { quiet: true });
  timings.migrate = (performance.now() - t) / 1000;
  sql = postgres(server.url, { max: 1, onnotice: () => {} });
  t = performance.now();
  await sql`create extension if not exists pgtap`;
  await seedDatabase(sql, { rows: ROWS, seed: 1 });
  timings.seed = (performance.now() - t) / 1000;
  log(
    `container path: provisioned, migrated and seeded with ${ROWS} rows, ${elapsed(started)} ` +
      `(${Object.entries(timings)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(", ")})`,
  );
}, 900_000);

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  if (!stopped) await server?.stop();
});

/** The local cluster of the rest of the suite, when that is what it runs on. */
const local = inject("server").kind === "local" ? inject("server") : undefined;

/** A setting as the server shows it: the conf file's quotes dropped. */
const shown = (v: string | number) => String(v).replace(/^'(.*)'$/, "$1");

async function settings(
  db: postgres.Sql,
  names: string[],
): Promise<
  Record<string, { value: string; source: string; file: string | null }>
> {
  const rows = await db<
    { name: string; value: string; source: string; file: string | null }[]
  >`
    select s.name, current_setting(s.name) as value, p.source, p.sourcefile as file
    from unnest(${names}::text[]) as s(name)
    join pg_settings p on lower(p.name) = lower(s.name)`;
  return Object.fromEntries(rows.map((r) => [r.name, r]));
}

describe("the container path (QB_SERVER=container)", () => {
  test("is a container of the image of docker/Dockerfile, on Debian's PostgreSQL 15", async () => {
    expect(server!.kind).toBe("container");
    const [row] = await sql<{ version: string; num: number }[]>`
      select version(), current_setting('server_version_num')::int as num`;
    expect(Math.floor(row!.num / 10000)).toBe(15);
    expect(row!.version).toMatch(/\(Debian 15\.\d+-\d+\+deb12u\d+\)/);
    const inspect = docker(server!.engine.host, [
      "inspect",
      "--format",
      '{{.Config.Image}} {{index .Config.Labels "org.querybudget.image"}}',
      server!.containerId,
    ]);
    expect(inspect.stdout.trim()).toBe(`${IMAGE} postgres`);
    // what a DATABASE_URL server is checked for
    expect(serverProblems(await readServerFacts(server!.url))).toEqual([]);
  });

  test("has the settings of server-settings.ts from the image's own file, the same as the local cluster's", async () => {
    const names = Object.keys(IMAGE_SETTINGS);
    const inContainer = await settings(sql, names);
    expect(Object.keys(inContainer).sort()).toEqual([...names].sort());
    for (const [name, value] of Object.entries(IMAGE_SETTINGS)) {
      expect(inContainer[name], name).toMatchObject({
        value: shown(value),
        source: "configuration file",
        file: IMAGE_CONF,
      });
    }
    expect(inContainer["shared_preload_libraries"]!.value).toBe(
      PRELOAD_LIBRARIES.join(","),
    );
    if (local) {
      const l = postgres(local.url, { max: 1, onnotice: () => {} });
      try {
        const onLocal = await settings(l, names);
        for (const name of names)
          expect(inContainer[name]!.value, name).toBe(onLocal[name]!.value);
      } finally {
        await l.end();
      }
    }
  });

  test("gets the test-only speed settings on its command line, never from the image", async () => {
    const names = Object.keys(TEST_ONLY_SPEED);
    const inContainer = await settings(sql, names);
    for (const [name, value] of Object.entries(TEST_ONLY_SPEED))
      expect(inContainer[name], name).toMatchObject({
        value: shown(value),
        source: "command line",
      });
    const conf = docker(server!.engine.host, [
      "exec",
      server!.containerId,
      "cat",
      IMAGE_CONF,
    ]);
    expect(conf.status).toBe(0);
    for (const name of names)
      expect(conf.stdout).not.toMatch(new RegExp(`^${name}\\s*=`, "m"));
  });

  test("offers every extension, of the same versions as the local cluster's packages, and each loads", async () => {
    const wanted = Object.keys(REQUIRED_EXTENSIONS);
    const versions = async (db: postgres.Sql) =>
      Object.fromEntries(
        (
          await db<{ name: string; v: string }[]>`
            select name, default_version as v from pg_available_extensions
            where name = any(${wanted}::text[])`
        ).map((r) => [r.name, r.v]),
      );
    const inContainer = await versions(sql);
    expect(Object.keys(inContainer).sort()).toEqual([...wanted].sort());
    if (local) {
      const l = postgres(local.url, { max: 1, onnotice: () => {} });
      try {
        expect(inContainer).toEqual(await versions(l));
      } finally {
        await l.end();
      }
    }
    await sql`create extension if not exists hypopg`;
    const installed = await sql<{ extname: string }[]>`
      select extname from pg_extension where extname = any(${wanted}::text[]) order by 1`;
    expect(installed.map((r) => r.extname)).toEqual([...wanted].sort());
    // each one working: a hypothetical index, a pgTAP assertion, a partition set, statements
    // counted, pg_cron's launcher running with the jobs of sql/30_jobs.sql
    const [hypo] = await sql<{ n: number }[]>`
      select count(*)::int as n from hypopg_create_index('create index on app.tenants (name)')`;
    expect(hypo!.n).toBe(1);
    await sql`select hypopg_reset()`;
    await sql`select no_plan()`;
    const [tap] = await sql<
      { line: string }[]
    >`select ok(true, 'works') as line`;
    expect(tap!.line).toBe("ok 1 - works");
    const [facts] = await sql<
      {
        partitioned: number;
        statements: number;
        launchers: number;
        jobs: number;
      }[]
    >`
      select (select count(*)::int from partman.part_config) as partitioned,
             (select count(*)::int from pg_stat_statements) as statements,
             (select count(*)::int from pg_stat_activity where backend_type = 'pg_cron launcher') as launchers,
             (select count(*)::int from cron.job where database = current_database()) as jobs`;
    expect(facts!.partitioned).toBeGreaterThanOrEqual(2);
    expect(facts!.statements).toBeGreaterThan(0);
    expect(facts!.launchers).toBe(1);
    expect(facts!.jobs).toBeGreaterThan(0);
  });

  test("was seeded with 10k rows", async () => {
    const [row] = await sql<{ chunks: number; operations: number }[]>`
      select (select count(*)::int from app.chunks) as chunks,
             (select count(*)::int from app.operations) as operations`;
    expect(row).toEqual({ chunks: ROWS, operations: ROWS });
  });

  test("answers every read and write of the workload as querybudget_app (writes rolled back)", async () => {
    const calls = (await apiCalls(sql, { sets: 1 })).filter(
      (c) => c.kind !== "procedure",
    );
    expect(calls.filter((c) => c.kind === "read").length).toBeGreaterThan(10);
    expect(calls.filter((c) => c.kind === "write").length).toBeGreaterThan(3);
    const app = await connectAs(server!.url, "querybudget_app");
    try {
      const failed: string[] = [];
      for (const call of calls) {
        try {
          if (call.kind === "write") await app.unsafe("begin");
          await app.unsafe(call.query, call.args as never[]);
        } catch (error) {
          failed.push(`${call.name}: ${(error as Error).message}`);
        } finally {
          if (call.kind === "write") await app.unsafe("rollback");
        }
      }
      expect(failed).toEqual([]);
      // one read against a plain query on the tables
      const [tenant] = await sql<{ id: string }[]>`
        select tenant_id::text as id from app.documents
        group by tenant_id order by count(*) desc, tenant_id limit 1`;
      const [counts] = await app<
        { c: { by_status: Record<string, number> } }[]
      >`
        select api.document_status_counts(${tenant!.id}) as c`;
      const plain = await sql<{ status: string; n: number }[]>`
        select status, count(*)::int as n from app.documents
        where tenant_id = ${tenant!.id} group by status`;
      for (const { status, n } of plain)
        expect(counts!.c.by_status[status], status).toBe(n);
    } finally {
      await app.end();
    }
  });

  test("keeps what the api writes: a tenant, its users and a session", async () => {
    const app = await connectAs(server!.url, "querybudget_app");
    try {
      const [tenant] = await app<{ id: string }[]>`
        select tenant_id::text as id from api.create_tenant('Container smoke')`;
      const users = await app<{ id: string; status: string }[]>`
        select id::text, status from api.create_users(${tenant!.id}, ${JSON.stringify(
          [
            { email: "ada@smoke.example", display_name: "Ada" },
            { email: "alan@smoke.example", display_name: "Alan" },
          ],
        )}::text::jsonb) order by position`;
      const [session] = await app<{ token: string }[]>`
        select session_token::text as token
        from api.create_session(${tenant!.id}, ${users[0]!.id}, interval '1 day')`;
      const [valid] = await app<{ tenant_id: string; user_id: string }[]>`
        select tenant_id::text, user_id::text from api.validate_session(${session!.token}::uuid)`;
      expect(users.map((u) => u.status)).toEqual(["created", "created"]);
      expect(valid).toEqual({ tenant_id: tenant!.id, user_id: users[0]!.id });
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from app.users where tenant_id = ${tenant!.id}`;
      expect(row!.n).toBe(2);
    } finally {
      await app.end();
    }
  });

  test("leaves nothing behind: no container, no build leftovers, no dockerd it started", async () => {
    const s = server!;
    const host = s.engine.host;
    await sql.end({ timeout: 5 });
    await s.stopContainer();
    const ours = docker(host, [
      "ps",
      "--all",
      "--quiet",
      "--filter",
      `label=${CONTAINER_ROLE_LABEL}=server`,
      "--filter",
      `label=org.querybudget.pid=${process.pid}`,
    ]);
    expect(ours.status).toBe(0);
    expect(ours.stdout.trim()).toBe("");
    // intermediate containers of a build (a failed step would leave one without --force-rm)
    for (const ancestor of [IMAGE, MADE_BASE]) {
      const left = docker(host, [
        "ps",
        "--all",
        "--quiet",
        "--filter",
        `ancestor=${ancestor}`,
      ]);
      expect(left.stdout.trim(), ancestor).toBe("");
    }
    const dangling = docker(host, [
      "images",
      "--quiet",
      "--filter",
      "dangling=true",
      "--filter",
      `label=${IMAGE_LABEL}`,
    ]);
    expect(dangling.stdout.trim()).toBe("");
    // kept on purpose: the image, rebuilt from the layer cache when the Dockerfile changes
    expect(docker(host, ["image", "inspect", IMAGE]).status).toBe(0);

    stopped = true;
    await s.stop();
    if (s.engine.harness) {
      // the last run to leave the harness's dockerd stops it (another run may still use it)
      expect(["stopped", "left running"]).toContain(s.engineAfterStop);
      if (s.engineAfterStop === "stopped") {
        expect(harnessDockerdPid()).toBeUndefined();
        expect(await engineAnswers(host)).toBe(false);
      }
    } else {
      expect(s.engineAfterStop).toBe("not ours");
    }
  });
});
