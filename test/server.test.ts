// Where the database comes from: the DATABASE_URL check, and the throwaway local cluster.
import { existsSync, statSync } from "node:fs";
import postgres from "postgres";
import { describe, expect, inject, test } from "vitest";
import {
  readServerFacts,
  serverProblems,
  type ServerFacts,
} from "../scripts/lib/check-server.ts";
import { startLocalCluster } from "../scripts/lib/cluster.ts";
import { forcedPath } from "../scripts/lib/server.ts";
import {
  commandLineOptions,
  imageConf,
  TEST_ONLY_SPEED,
} from "../scripts/lib/server-settings.ts";

const complete: ServerFacts = {
  versionNum: 150018,
  preloadLibraries: "pg_cron, pg_stat_statements,auto_explain",
  statementsTrack: "all",
  availableExtensions: [
    "pg_cron",
    "pg_stat_statements",
    "pgtap",
    "hypopg",
    "pg_partman",
    "plpgsql",
  ],
};

describe("checking a server given by DATABASE_URL", () => {
  test("the test server has everything querybudget needs", async () => {
    expect(serverProblems(await readServerFacts(inject("server").url))).toEqual(
      [],
    );
  });

  test("a complete server has no problems", () => {
    expect(serverProblems(complete)).toEqual([]);
  });

  test("each missing piece is named with how to fix it", () => {
    const problems = serverProblems({
      versionNum: 160002,
      preloadLibraries: "pg_stat_statements",
      statementsTrack: "top",
      availableExtensions: ["pg_stat_statements", "pgtap"],
    });
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(
      /version 160002: querybudget needs PostgreSQL 15/,
    );
    expect(problems[1]).toMatch(
      /lacks pg_cron, auto_explain: set shared_preload_libraries = 'pg_cron,pg_stat_statements,auto_explain'/,
    );
    expect(problems[2]).toMatch(/pg_stat_statements.track must be 'all'/);
    expect(problems[3]).toMatch(
      /pg_cron, hypopg, pg_partman: on Debian, apt-get install postgresql-15-cron postgresql-15-hypopg postgresql-15-partman/,
    );
  });
});

describe("choosing a path (QB_SERVER) and the settings every path shares", () => {
  test("QB_SERVER takes local or container, anything else is refused by name", () => {
    const saved = process.env.QB_SERVER;
    try {
      delete process.env.QB_SERVER;
      expect(forcedPath()).toBeUndefined();
      process.env.QB_SERVER = "container";
      expect(forcedPath()).toBe("container");
      process.env.QB_SERVER = " local ";
      expect(forcedPath()).toBe("local");
      process.env.QB_SERVER = "docker";
      expect(() => forcedPath()).toThrow(
        /QB_SERVER=docker: it must be local or container/,
      );
    } finally {
      if (saved === undefined) delete process.env.QB_SERVER;
      else process.env.QB_SERVER = saved;
    }
  });

  test("the image's settings never hold a test-only speed setting; a container gets them as -c options", () => {
    const conf = imageConf();
    expect(conf).toMatch(
      /^shared_preload_libraries = 'pg_cron,pg_stat_statements,auto_explain'$/m,
    );
    for (const name of Object.keys(TEST_ONLY_SPEED))
      expect(conf).not.toMatch(new RegExp(`^${name} =`, "m"));
    expect(
      commandLineOptions({ fsync: "off", shared_buffers: "'1GB'" }),
    ).toEqual(["-c", "fsync=off", "-c", "shared_buffers=1GB"]);
  });
});

describe.runIf(inject("server").kind === "local")(
  "the throwaway local cluster",
  () => {
    test("preloads pg_cron, pg_stat_statements and auto_explain and tracks nested statements", async () => {
      const sql = postgres(inject("server").url, { max: 1 });
      const [s] = await sql<
        { preload: string; track: string; cron_db: string; fsync: string }[]
      >`
      select current_setting('shared_preload_libraries') as preload,
             current_setting('pg_stat_statements.track') as track,
             current_setting('cron.database_name') as cron_db,
             current_setting('fsync') as fsync`;
      await sql.end();
      expect(s).toEqual({
        preload: "pg_cron,pg_stat_statements,auto_explain",
        track: "all",
        cron_db: "querybudget",
        fsync: "off",
      });
    });

    test("starts within 3 s of initdb, runs as the postgres OS user, and is removed when stopped", async () => {
      const started = performance.now();
      const cluster = await startLocalCluster();
      const startMs = performance.now() - started;
      const dataDir = cluster.socketDir!;
      const sql = postgres(cluster.url, { max: 1 });
      const [row] = await sql<
        { dir: string }[]
      >`select current_setting('data_directory') as dir`;
      await sql.end();
      if (process.getuid?.() === 0) expect(statSync(row!.dir).uid).not.toBe(0);
      expect(existsSync(dataDir)).toBe(true);
      await cluster.stop();
      expect(existsSync(dataDir)).toBe(false);
      // initdb included; the ready-after-initdb time is logged by the cluster itself.
      expect(startMs).toBeLessThan(10_000);
    });
  },
);
