// Docs that count things (issue 9, item 7): every number of routines, budgets, indexes, tables,
// jobs or partitions that README.md or a page of docs/ states is either checked here against
// the real figure, derived from the database's catalog (a copy of the 10k template, migrated
// as every server is) or from scripts/lib/workload.ts, or listed below as not a count of ours
// with the reason. A sweep finds every number next to such a word, so a new count in a doc
// fails until it has a claim here (or a reason).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type postgres from "postgres";
import { describe, expect, test } from "vitest";
import { P95_BUDGET_MS, WORKLOAD } from "../scripts/lib/workload.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("docs");
const ROOT = join(import.meta.dirname, "..");
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

const WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
  "twenty",
];
/** "16", "2,600", "five", "Five" as a number. */
function numberOf(text: string): number {
  const word = WORDS.indexOf(text.toLowerCase());
  return word >= 0 ? word : Number(text.replace(/,/g, ""));
}

/** A count from the catalog: `select count(*) ...`. */
const count = (query: string) => async (sql: postgres.Sql) => {
  const [row] = await sql.unsafe<{ n: number }[]>(
    `select (${query})::int as n`,
  );
  return row!.n;
};

interface Claim {
  /** The doc, from the repository's root. */
  file: string;
  /** Where it states the figure: the named group `n` is the number (digits or a word). Each must match at least once. */
  pattern: RegExp;
  /** What the figure is. */
  what: string;
  /** The real figure. */
  actual: (sql: postgres.Sql) => Promise<number> | number;
}

const apiRoutines = count(
  `select count(*) from pg_proc p where p.pronamespace = 'api'::regnamespace`,
);
const chunkPartitions = count(
  `select count(*) from pg_inherits i where i.inhparent = 'app.chunks'::regclass`,
);
const jobs = count(`select count(*) from maint.job_definitions()`);
const N = String.raw`(?<n>\d[\d,]*|${WORDS.join("|")})`;
const re = (source: string) => new RegExp(source.replaceAll("<N>", N), "gim");

const CLAIMS: Claim[] = [
  {
    file: "docs/security.md",
    pattern: re(String.raw`across <N> api routines`),
    what: "api routines (the fuzz and isolation runs' output)",
    actual: apiRoutines,
  },
  {
    file: "docs/security.md",
    pattern: re(String.raw`of <N> tables changed`),
    what: "app tables the fuzz run checksums (tables, partitioned tables and views of app, partitions apart)",
    actual: count(
      `select count(*) from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p', 'm') and not c.relispartition`,
    ),
  },
  {
    file: "docs/jobs.md",
    pattern: re(String.raw`<N> pg_cron jobs`),
    what: "pg_cron jobs (maint.job_definitions())",
    actual: jobs,
  },
  {
    file: "docs/jobs.md",
    pattern: re(String.raw`fewer than <N> rows`),
    what: "pg_cron jobs (maint.job_definitions())",
    actual: jobs,
  },
  {
    file: "docs/operations.md",
    pattern: re(String.raw`<N> pg_cron jobs`),
    what: "pg_cron jobs (maint.job_definitions())",
    actual: jobs,
  },
  {
    file: "docs/operations.md",
    pattern: re(String.raw`\(<N> for\s+\x60app\.chunks\x60`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/operations.md",
    pattern: re(String.raw`with <N>\s+partitions attached`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/api.md",
    pattern: re(String.raw`<N> (?:hash|chunk) partitions`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/pitfalls.md",
    pattern: re(String.raw`<N> chunk partitions`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/monitoring.md",
    pattern: re(String.raw`all <N> partitions costed`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/seeding.md",
    pattern: re(String.raw`(?:over|1M:) <N> (?:chunk )?partitions`),
    what: "partitions of app.chunks",
    actual: chunkPartitions,
  },
  {
    file: "docs/seeding.md",
    pattern: re(String.raw`a primary key and <N> more\s+indexes`),
    what: "indexes of app.operations besides its primary key",
    actual: count(
      `select count(*) from pg_index i where i.indrelid = 'app.operations'::regclass and not i.indisprimary`,
    ),
  },
  {
    file: "docs/seeding.md",
    pattern: re(String.raw`chunks <N> unique indexes`),
    what: "unique indexes of app.chunks",
    actual: count(
      `select count(*) from pg_index i where i.indrelid = 'app.chunks'::regclass and i.indisunique`,
    ),
  },
  {
    file: "docs/seeding.md",
    pattern: re(String.raw`<N> keys in`),
    what: "foreign keys of the app tables (80-check-foreign-keys.sql checks each)",
    actual:
      count(`select count(*) from pg_constraint k join pg_class c on c.oid = k.conrelid
                   where k.contype = 'f' and k.connamespace = 'app'::regnamespace and k.conparentid = 0 and not c.relispartition`),
  },
  {
    file: "docs/budgets.md",
    pattern: re(String.raw`\(<N> of \d+: the bulk`),
    what: "workloads whose 1M / 10k ratio is asserted",
    actual: () => WORKLOAD.filter((w) => w.ratioAsserted).length,
  },
  {
    file: "docs/budgets.md",
    pattern: re(String.raw`\(\d+ of <N>: the bulk`),
    what: "workloads (scripts/lib/workload.ts)",
    actual: () => WORKLOAD.length,
  },
  {
    file: "docs/scaling.md",
    pattern: re(String.raw`the <N> api\s+routines`),
    what: "api routines",
    actual: apiRoutines,
  },
  {
    file: "docs/scaling.md",
    pattern: re(String.raw`\(<N> of the \d+ api\s+routines\)`),
    what: "api routines with p_tenant_id (routed by Citus)",
    actual: count(
      `select count(*) from pg_proc p where p.pronamespace = 'api'::regnamespace and 'p_tenant_id' = any (p.proargnames)`,
    ),
  },
  ...(
    [
      String.raw`The <N> routines\s+that run on the coordinator`,
      String.raw`but the <N>\s+coordinator routines`,
    ] as const
  ).map((source) => ({
    file: "docs/scaling.md",
    pattern: re(source),
    what: "api routines without p_tenant_id (they run on a Citus coordinator)",
    actual: count(
      `select count(*) from pg_proc p where p.pronamespace = 'api'::regnamespace and not coalesce('p_tenant_id' = any (p.proargnames), false)`,
    ),
  })),
  {
    file: "docs/scaling.md",
    pattern: re(String.raw`the <N> session-token\s+routines`),
    what: "api routines that take a session token",
    actual: count(
      `select count(*) from pg_proc p where p.pronamespace = 'api'::regnamespace and 'p_session_token' = any (p.proargnames)`,
    ),
  },
  ...(
    [
      String.raw`each of the <N> workloads`,
      String.raw`<N> of \d+ workloads work`,
      String.raw`\d+ of <N> workloads work`,
    ] as const
  ).map((source) => ({
    file: "docs/scaling.md",
    pattern: re(source),
    what: "workloads (scripts/lib/workload.ts; on the cluster every one works)",
    actual: () => WORKLOAD.length,
  })),
  // the p95 budget, wherever a page names it
  ...(
    [
      ["docs/security.md", String.raw`the\s+<N> ms\s+budget`],
      ["docs/benchmark.md", String.raw`p95 ≤ <N> ms \(each`],
      ["docs/benchmark.md", String.raw`the <N> ms budget`],
      ["docs/budgets.md", String.raw`the\s+<N> ms\s+(?:must cover|rule)`],
      ["docs/monitoring.md", String.raw`(?:budget is|a p95 of)\s+<N> ms`],
    ] as const
  ).map(([file, source]) => ({
    file,
    pattern: re(source),
    what: "ms, the p95 budget (P95_BUDGET_MS)",
    actual: () => P95_BUDGET_MS,
  })),
];

/**
 * Numbers next to a counted word that are not counts of our routines, budgets, indexes, tables,
 * jobs or partitions (a measurement, an argument, an article): the phrase, and why.
 */
const NOT_COUNTS: { file: string; phrase: RegExp; why: string }[] = [
  {
    file: "docs/monitoring.md",
    phrase: /ten oldest tables/,
    why: "a limit of the dashboard's wraparound section (scripts/lib/dashboard/queries.ts)",
  },
  {
    file: "docs/monitoring.md",
    phrase: /500\s+against\s+a\s+budget/,
    why: "buffers per call seen on the dashboard, a measurement",
  },
  {
    file: "docs/pitfalls.md",
    phrase: /200 at 10k\)\. The routines/,
    why: "a buffer budget, a measurement",
  },
  {
    file: "docs/api.md",
    phrase: /50,175 entries/,
    why: "a measured index size at the 1M tier, in a plan excerpt",
  },
  {
    file: "docs/benchmark.md",
    phrase: /up to 20 argument sets/,
    why: "a setting of the benchmark",
  },
  {
    file: "docs/budgets.md",
    phrase: /after 10 warm-up calls/,
    why: "a setting of the budget test",
  },
  {
    file: "docs/operations.md",
    phrase: /at most 100 batches per table/,
    why: "a limit of maint.purge_expired (its comment and docs/jobs.md say it)",
  },
  { file: "docs/seeding.md", phrase: /~0\.5 s per file/, why: "a measurement" },
  {
    file: "docs/indexing.md",
    phrase: /001 single-column/,
    why: "seed 001, not a count",
  },
  {
    file: "docs/api.md",
    phrase: /PostgreSQL 15 plans/,
    why: "the PostgreSQL version",
  },
  {
    file: "docs/benchmark.md",
    phrase: /exits 1 when a budget/,
    why: "an exit code",
  },
  {
    file: "docs/budgets.md",
    phrase: /100 ids\s+for bulk routines/,
    why: "the size of a bulk call's argument (BULK_IDS)",
  },
  { file: "docs/jobs.md", phrase: /batch of 5,000 keys/, why: "a batch size" },
  {
    file: "docs/scaling.md",
    phrase: /its 50 shards \(one per/,
    why: "Citus shards of a shard group, measured on the test cluster",
  },
  {
    file: "docs/scaling.md",
    phrase: /1\+2\s+cluster/,
    why: "the test cluster: a coordinator and two workers",
  },
  {
    file: "docs/scaling.md",
    phrase: /Task Count 1, 43 workloads/,
    why: "workloads routed to one node, as a run measured (all but the coordinator routines and the procedure)",
  },
  {
    file: "docs/scaling.md",
    phrase: /PostgreSQL 15 plans/,
    why: "the PostgreSQL version",
  },
  {
    file: "docs/budgets.md",
    phrase: /two where a routine has two ways/,
    why: "entries per routine, named right after",
  },
];

const SWEEP = new RegExp(
  String.raw`\b(\d[\d,]*|${WORDS.slice(2).join("|")})\b((?:\s+(?!\x60\x60\x60)[\w\x60.'()/-]+){0,3}?)\s+(api routines?|routines?|functions?|procedures?|indexes|indices|budgets?|tables?|jobs?|partitions?|workloads?|keys)\b`,
  "gi",
);
/** README.md and every page of docs/ (docs/example-report is generated by `npm start`). */
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

describe("counts stated in the docs", () => {
  for (const claim of CLAIMS) {
    test(`${claim.file}: ${claim.pattern.source.slice(0, 60)} is the number of ${claim.what}`, async () => {
      const text = read(claim.file);
      const stated = [...text.matchAll(claim.pattern)].map((m) =>
        numberOf(m.groups!.n!),
      );
      expect(
        stated.length,
        `${claim.file} no longer says ${claim.pattern}: remove the claim or fix the pattern`,
      ).toBeGreaterThan(0);
      const actual = await claim.actual(db().sql);
      expect(actual, `the real number of ${claim.what}`).toBeGreaterThan(0);
      expect(
        stated,
        `${claim.file} states ${stated.join(", ")} ${claim.what}; there are ${actual}`,
      ).toEqual(stated.map(() => actual));
    });
  }

  test("docs/budgets.md's table lists every workload once, with the buffer budgets of scripts/lib/workload.ts", () => {
    const text = read("docs/budgets.md");
    const section = text.slice(
      text.indexOf("## Budgets"),
      text.indexOf("### The 1M / 10k target"),
    );
    const rows = [
      ...section.matchAll(
        /^\| `([^`]+)`[^|]*\|[^|]*\| [\d,]+ \(([\d,]+)\) \| [\d,]+ \(([\d,]+)\) \|/gm,
      ),
    ].map((m) => ({
      name: m[1]!,
      buffers: { "10k": numberOf(m[2]!), "1M": numberOf(m[3]!) },
    }));
    expect(rows.map((r) => r.name).sort()).toEqual(
      WORKLOAD.map((w) => w.name).sort(),
    );
    expect(rows).toEqual(
      rows.map((r) => ({
        name: r.name,
        buffers: WORKLOAD.find((w) => w.name === r.name)!.buffers,
      })),
    );
  });

  test("every number next to a counted word in README.md and docs/ is a checked claim or listed with its reason", () => {
    const unchecked: string[] = [];
    for (const file of DOCS) {
      const text = read(file);
      const claimed = CLAIMS.filter((c) => c.file === file).flatMap((c) =>
        [...text.matchAll(c.pattern)].map((m) => [
          m.index!,
          m.index! + m[0].length,
        ]),
      );
      for (const m of text.matchAll(SWEEP)) {
        const [start, end] = [m.index!, m.index! + m[0].length];
        if (claimed.some(([a, b]) => a! < end && start < b!)) continue;
        const around = text.slice(Math.max(0, start - 30), end + 30);
        if (
          NOT_COUNTS.some(
            (x) =>
              (x.file === "*" || x.file === file) &&
              (x.phrase.test(m[0]) || x.phrase.test(around)),
          )
        )
          continue;
        unchecked.push(`${file}: "${m[0].replace(/\s+/g, " ")}"`);
      }
    }
    expect(
      unchecked,
      `counts with no claim in test/docs.test.ts:\n${unchecked.join("\n")}`,
    ).toEqual([]);
  });

  test("the sweep finds what it should: a count the docs state and a made-up one", () => {
    const hits = (s: string) => [...s.matchAll(SWEEP)].map((m) => m[1]);
    expect(
      hits("EXECUTE on every routine of api (18 api\nroutines today)"),
    ).toEqual(["18"]);
    expect(hits("five pg_cron jobs call procedures")).toEqual(["five"]);
    expect(hits("one partition per probe")).toEqual([]);
  });
});
