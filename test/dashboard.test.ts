// `npm run dashboard` in a real browser: Debian's Chromium, headless, driven by playwright-core
// (nothing downloaded). On a copy of the seeded 10k tier with planted problems (a duplicate
// index, a NOT VALID constraint) and a round of the api workload: every page renders its
// sections with real numbers and its charts; the planted problems are on the overview; the
// routines page counts the calls the workload made; the reports on disk are read; and the
// dashboard's connections run every statement as querybudget_monitor (pg_stat_statements by
// role, pg_stat_activity), refusing to start as any other role.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import {
  apiWorkload,
  runWorkload,
} from "../scripts/lib/advisor/workload-driver.ts";
import { PAGES } from "../scripts/lib/dashboard/pages.ts";
import {
  APPLICATION_NAME,
  MONITOR_ROLE,
  monitorUrlOf,
} from "../scripts/lib/dashboard/queries.ts";
import {
  startDashboard,
  type Dashboard,
} from "../scripts/lib/dashboard/server.ts";
import { ROOT } from "../scripts/lib/sql-files.ts";
import { useTestDatabase } from "./harness/database.ts";
import { sqlState } from "./harness/errors.ts";

const CHROMIUM = "/usr/bin/chromium";
const db = useTestDatabase("dashboard");

/** What each page must show: its sections, and those that must have rows here. */
const EXPECTED: Record<string, { sections: string[]; nonEmpty: string[] }> = {
  "/": { sections: ["attention", "vitals"], nonEmpty: ["attention", "vitals"] },
  "/routines": {
    sections: ["window", "live", "history", "changes", "report"],
    nonEmpty: ["window", "live", "history", "report"],
  },
  "/queries": { sections: ["slow", "top"], nonEmpty: ["top"] },
  "/indexes": {
    sections: [
      "invalid",
      "duplicate",
      "missing-fk",
      "unused",
      "advisor",
      "usage",
    ],
    nonEmpty: ["duplicate", "missing-fk", "advisor", "usage"],
  },
  "/tables": {
    sections: [
      "sizes",
      "growth",
      "vacuum",
      "bloat",
      "wraparound",
      "sequences",
      "not-valid",
      "maintenance",
      "analyze",
      "seq-scans",
      "cache",
    ],
    nonEmpty: [
      "sizes",
      "growth",
      "wraparound",
      "sequences",
      "not-valid",
      "maintenance",
      "cache",
    ],
  },
  "/activity": {
    sections: ["connections", "blocked", "long-running", "replication"],
    nonEmpty: ["connections"],
  },
  "/jobs": { sections: ["health", "runs"], nonEmpty: [] },
};

/** A report of `npm start` and one of the advisor, as they write them (the fields the pages read). */
function writeReports(dir: string) {
  writeFileSync(
    join(dir, "latest.json"),
    JSON.stringify({
      generatedAt: "2026-01-15T10:00:00.000Z",
      tiers: [
        {
          rows: 10000,
          functions: [
            {
              name: "api.chunks_page",
              unit: "call",
              p95BudgetMs: 100,
              timing: { calls: 200, p50: 0.41, p95: 0.73, p99: 0.9 },
              buffers: { total: 14 },
              bufferBudget: 20,
            },
          ],
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, "advisor.json"),
    JSON.stringify({
      seconds: 12,
      recommendations: [
        {
          name: "operations_tenant_id_user_id_idx",
          table: "app.operations",
          columns: ["tenant_id", "user_id"],
          createStatements: [
            "create index concurrently ... on app.operations (tenant_id, user_id);",
          ],
          validation: {
            verdict: "confirmed",
            reason: "used",
            totals: {
              beforeBuffers: 16409,
              afterBuffers: 1297,
              beforeMs: 296.8,
              afterMs: 4.51,
            },
            sizeBytes: 843776,
          },
        },
      ],
    }),
  );
}

let browser: Browser;
let dashboard: Dashboard;
let page: Page;
const pageErrors: string[] = [];
/** Calls the workload made per api routine. */
const callsByRoutine = new Map<string, number>();

beforeAll(async () => {
  const { sql, url } = db();
  // the planted problems
  await sql`create index qb_planted_dup_idx on app.agents (tenant_id, name)`;
  await sql`alter table app.agents add constraint qb_planted_name_check check (length(name) > 0) not valid`;
  // a round of the api workload, so the routines and statements have numbers
  const calls = await apiWorkload(sql, {
    callsPerFunction: 1,
    purge: false,
    maintenance: false,
  });
  // between two snapshots of the history (functions/perf/history.sql): its charts get a point
  await sql`select perf.take_snapshot()`;
  const report = await runWorkload(url, calls);
  await sql`select perf.take_snapshot()`;
  // successful calls per routine (a routine with two variants has two workloads)
  for (const [name, routine] of new Map(calls.map((c) => [c.name, c.routine])))
    if (routine.startsWith("api."))
      callsByRoutine.set(
        routine,
        (callsByRoutine.get(routine) ?? 0) + (report.byFunction[name] ?? 0),
      );

  const reportsDir = mkdtempSync(join(tmpdir(), "qb-dashboard-"));
  writeReports(reportsDir);
  dashboard = await startDashboard({
    monitorUrl: monitorUrlOf(url),
    port: 0,
    reportsDir,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

interface RenderedSection {
  id: string;
  rows: number;
  numbers: number[];
  text: string;
}

async function open(path: string): Promise<RenderedSection[]> {
  const response = await page.goto(new URL(path, dashboard.url).toString());
  expect(response?.status(), path).toBe(200);
  // every chart drawn by Chart.js (charts.js marks its canvas)
  await page.waitForFunction(() =>
    [...document.querySelectorAll("canvas[data-chart]")].every(
      (c) => (c as HTMLCanvasElement).dataset.drawn === "true",
    ),
  );
  return page.$$eval("section[data-section]", (sections) =>
    sections.map((s) => ({
      id: s.getAttribute("data-section")!,
      rows: s.querySelectorAll("tbody tr").length,
      numbers: [...s.querySelectorAll("td.num")]
        .map((td) => Number(td.textContent!.replace(/,/g, "")))
        .filter((v) => Number.isFinite(v)),
      text: (s as HTMLElement).innerText,
    })),
  );
}

describe("every page in Chromium", () => {
  test("the pages are the ones expected", () => {
    expect(PAGES.map((p) => p.path).sort()).toEqual(
      Object.keys(EXPECTED).sort(),
    );
  });

  for (const [path, want] of Object.entries(EXPECTED)) {
    test(`${path}: its sections, with rows and numbers where the data has them`, async () => {
      const sections = await open(path);
      expect(sections.map((s) => s.id)).toEqual(want.sections);
      for (const id of want.nonEmpty) {
        const s = sections.find((x) => x.id === id)!;
        expect(s.rows, `${path} ${id}`).toBeGreaterThan(0);
      }
      // the charts that have data are drawn: a canvas with pixels
      const charts = await page.$$eval("canvas[data-chart]", (cs) =>
        cs.map(
          (c) =>
            (c as HTMLCanvasElement).width * (c as HTMLCanvasElement).height,
        ),
      );
      for (const area of charts) expect(area).toBeGreaterThan(0);
      expect(pageErrors).toEqual([]);
    });
  }

  test("the overview shows the planted duplicate index and NOT VALID constraint, each with its fix", async () => {
    const [attention] = await open("/");
    expect(attention!.id).toBe("attention");
    const rows = await page.$$eval(
      'section[data-section="attention"] tbody tr',
      (trs) =>
        trs.map((tr) =>
          Object.fromEntries(
            [...tr.querySelectorAll("td")].map((td) => [
              td.dataset.column!,
              td.textContent!,
            ]),
          ),
        ),
    );
    const dup = rows.find((r) => r.subject === "app.qb_planted_dup_idx");
    expect(dup?.severity).toBe("warning");
    expect(dup?.fix).toMatch(/drop index .*qb_planted_dup_idx/);
    const notValid = rows.find((r) =>
      r.subject?.includes("qb_planted_name_check"),
    );
    expect(
      notValid,
      "the NOT VALID constraint is on the overview",
    ).toBeDefined();
    expect(notValid!.fix).toMatch(/validate constraint qb_planted_name_check/i);
  });

  test("the routines page counts the calls the workload made, live and from the snapshots (against the workload's own count)", async () => {
    const sections = await open("/routines");
    expect(callsByRoutine.size).toBeGreaterThan(20);
    for (const id of ["window", "live"]) {
      const rows = await page.$$eval(
        `section[data-section="${id}"] tbody tr`,
        (trs) =>
          trs.map((tr) => ({
            routine: tr.querySelector('td[data-column="routine"]')!
              .textContent!,
            calls: Number(
              tr.querySelector('td[data-column="calls"]')!.textContent,
            ),
            mean: Number(
              tr.querySelector('td[data-column="mean_ms"]')!.textContent,
            ),
          })),
      );
      expect(sections.find((s) => s.id === id)!.rows).toBe(rows.length);
      for (const [routine, calls] of callsByRoutine) {
        const row = rows.find((r) => r.routine === routine);
        expect(row?.calls, `${id}: ${routine}`).toBe(calls);
        expect(row!.mean).toBeGreaterThan(0);
      }
    }
  });

  test("the tables page's sizes match the catalog's", async () => {
    await open("/tables");
    const shown = await page.$$eval(
      'section[data-section="sizes"] tbody tr',
      (trs) =>
        trs.map((tr) => ({
          table: `${tr.querySelector('td[data-column="schema_name"]')!.textContent}.${tr.querySelector('td[data-column="table_name"]')!.textContent}`,
          index: Number(
            tr.querySelector('td[data-column="index_bytes"]')!.textContent,
          ),
        })),
    );
    // the reference: the partitions' indexes summed, read here from pg_partition_tree
    const [ref] = await db().sql<{ bytes: string }[]>`
      select sum(pg_indexes_size(t.relid))::bigint as bytes
      from pg_partition_tree('app.chunks') t where t.isleaf`;
    expect(shown.find((s) => s.table === "app.chunks")?.index).toBe(
      Number(ref!.bytes),
    );
  });
});

describe("read-only, as querybudget_monitor", () => {
  test("every statement the pages ran was querybudget_monitor's (pg_stat_statements, top level)", async () => {
    // the database's top-level entries before and after browsing every page: what ran meanwhile
    // is what the dashboard ran (the test's own reading is marked and left out)
    const entries = () => db().sql<
      { role: string; queryid: string; calls: string; query: string }[]
    >`
      select /* dashboard test */ r.rolname::text as role, s.queryid::text, s.calls::text, s.query
      from pg_stat_statements(true) s join pg_roles r on r.oid = s.userid
      where s.dbid = (select oid from pg_database where datname = current_database()) and s.toplevel`;
    const key = (e: { role: string; queryid: string }) =>
      `${e.role}/${e.queryid}`;
    const before = new Map(
      (await entries()).map((e) => [key(e), Number(e.calls)]),
    );
    for (const path of Object.keys(EXPECTED)) await open(path);
    const ran = (await entries()).filter(
      (e) =>
        Number(e.calls) > (before.get(key(e)) ?? 0) &&
        !e.query.includes("/* dashboard test */"),
    );
    expect(ran.length).toBeGreaterThan(10);
    expect([...new Set(ran.map((e) => e.role))]).toEqual([MONITOR_ROLE]);
    // and they were the perf functions (no table of app, api or maint)
    for (const e of ran) expect(e.query).not.toMatch(/\b(app|api|maint)\./);
  });

  test("its connections are querybudget_monitor's, read-only", async () => {
    const sessions = await db().sql<{ usename: string; read_only: boolean }[]>`
      select usename::text, null::boolean as read_only from pg_stat_activity
      where datname = current_database() and application_name = ${APPLICATION_NAME}`;
    expect(sessions.length).toBeGreaterThan(0);
    expect([...new Set(sessions.map((s) => s.usename))]).toEqual([
      MONITOR_ROLE,
    ]);
    const [setting] = await dashboard.monitor.sql<{ v: string }[]>`
      select current_setting('default_transaction_read_only') as v`;
    expect(setting!.v).toBe("on");
  });

  test("it refuses to start as another role (the owner)", async () => {
    await expect(
      startDashboard({ monitorUrl: db().url, port: 0, reportsDir: tmpdir() }),
    ).rejects.toThrow(/connects as querybudget_monitor only/);
  });
});

describe("the dashboard's perf functions", () => {
  test("refuse bad arguments with the documented codes", async () => {
    const { sql } = db();
    expect(await sqlState(sql`select * from perf.job_runs(null)`)).toBe(
      "QB001",
    );
    expect(await sqlState(sql`select * from perf.job_runs(0)`)).toBe("QB008");
    expect(await sqlState(sql`select * from perf.job_runs(10001)`)).toBe(
      "QB008",
    );
    expect(await sqlState(sql`select * from perf.routine_window(null)`)).toBe(
      "QB001",
    );
  });

  test("perf.table_maintenance sums the partitions' counters as pg_stat_user_tables has them", async () => {
    // one transaction: the statistics are read once and cached (stats_fetch_consistency = cache),
    // so both readings see the same counters even if autovacuum reports meanwhile
    type Counters = { live: string; dead: string; partitions: number };
    const [shown, ref] = await db().sql.begin(async (sql) => {
      const [a] = await sql<Counters[]>`
        select live_rows::text as live, dead_rows::text as dead, partitions
        from perf.table_maintenance() where schema_name = 'app' and table_name = 'chunks'`;
      const [b] = await sql<Counters[]>`
        select coalesce(sum(s.n_live_tup), 0)::text as live, coalesce(sum(s.n_dead_tup), 0)::text as dead, count(*)::integer as partitions
        from pg_partition_tree('app.chunks') t left join pg_stat_user_tables s on s.relid = t.relid
        where t.isleaf`;
      return [a, b];
    });
    expect(shown).toEqual(ref);
    expect(shown!.partitions).toBe(16);
  });
});

describe("the jobs page where pg_cron lives", () => {
  test("lists the querybudget_ jobs with their numbers", async () => {
    const server = inject("server");
    const main = await startDashboard({
      monitorUrl: monitorUrlOf(server.url),
      port: 0,
      reportsDir: tmpdir(),
    });
    try {
      const response = await page.goto(new URL("/jobs", main.url).toString());
      expect(response?.status()).toBe(200);
      const jobs = await page.$$eval(
        'section[data-section="health"] tbody tr',
        (trs) =>
          trs.map((tr) => ({
            name: tr.querySelector('td[data-column="name"]')!.textContent!,
            runs: Number(
              tr.querySelector('td[data-column="runs_7d"]')!.textContent,
            ),
          })),
      );
      const admin = postgres(server.url, { max: 1, onnotice: () => {} });
      try {
        const ref = await admin<{ jobname: string }[]>`
          select jobname from cron.job where jobname like 'querybudget\_%' order by jobname`;
        expect(jobs.map((j) => j.name).sort()).toEqual(
          ref.map((r) => r.jobname),
        );
      } finally {
        await admin.end();
      }
      for (const j of jobs) expect(Number.isInteger(j.runs)).toBe(true);
    } finally {
      await main.close();
    }
  });
});

describe("npm run dashboard", () => {
  test("with DATABASE_URL it serves that database as the monitor and prints its URL", async () => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "node_modules/tsx/dist/cli.mjs"),
        "scripts/dashboard.ts",
        "--port",
        "0",
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: db().url,
          MONITOR_DATABASE_URL: "",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += d;
          const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once("exit", (code) =>
          reject(new Error(`exited ${code}: ${err}`)),
        );
      });
      const response = await fetch(url);
      expect(response.status).toBe(200);
      const body = await response.text();
      expect(body).toContain(
        `${db().name} · read-only, as querybudget_monitor`,
      );
      expect(body).toContain("qb_planted_dup_idx");
    } finally {
      child.kill("SIGINT");
    }
  });
});
