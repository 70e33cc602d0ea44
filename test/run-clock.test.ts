// The budgets' clock (scripts/lib/run-clock.ts; docs/budgets.md "Time on a busy machine"): a
// call's wall time less the time the server backend and this process waited for a CPU. What it
// must subtract (run-queue delay, made here with busy child processes) and what it must not
// (a sleep, which is waiting of another kind), against an independent reference: the backend's
// own CPU time from /proc, which the corrected time can never be below.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runClock, WALL_CLOCK } from "../scripts/lib/run-clock.ts";
import { useTestDatabase } from "./harness/database.ts";

const db = useTestDatabase("run_clock");
let sql: postgres.Sql;
beforeAll(() => {
  sql = postgres(db().url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql.end({ timeout: 5 });
});

const cpuMs = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;

describe("the run clock", () => {
  test("corrects on a server of this machine; the wall clock does not", async () => {
    const clock = await runClock(sql);
    // the test harness's server is a throwaway cluster here, or a container / DATABASE_URL
    // (then not corrected, and the rest is not asserted)
    if (db().url.includes("127.0.0.1") || db().url.includes("localhost"))
      expect(clock.corrected).toBe(true);
    expect(WALL_CLOCK.corrected).toBe(false);
    const t = await WALL_CLOCK.time(() => sql`select 1`);
    expect(t.ms).toBe(t.wallMs);
    expect(t.waitMs).toBe(0);
  });

  test("a sleep is not subtracted: only waiting for a CPU is", async () => {
    const clock = await runClock(sql);
    if (!clock.corrected) return;
    const t = await clock.time(() => sql`select pg_sleep(0.2)`);
    expect(t.wallMs).toBeGreaterThanOrEqual(200);
    // slack: Linux books a wait when the process next runs, so a wait that began just before
    // the call (the backend finishing the previous one) may land in it (20 ms seen at a load
    // of 20 on 2 cores)
    expect(t.ms).toBeGreaterThanOrEqual(170);
    expect(t.ms).toBeLessThanOrEqual(t.wallMs);
  });

  test("with busy processes beside it: the wait is subtracted, and what is left is at least the backend's CPU time", async () => {
    const clock = await runClock(sql);
    if (!clock.corrected) return;
    const [{ pid }] =
      (await sql`select pg_backend_pid() as pid`) as unknown as [
        { pid: number },
      ];
    const hogs: ChildProcess[] = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }),
    );
    try {
      await new Promise((r) => setTimeout(r, 300));
      let waited = 0;
      for (let i = 0; i < 5; i++) {
        const cpu0 = cpuMs(pid);
        const t = await clock.time(
          () => sql`select count(*) from generate_series(1, 400000)`,
        );
        const cpu = cpuMs(pid) - cpu0;
        waited += t.waitMs;
        expect(t.ms).toBeLessThanOrEqual(t.wallMs);
        // not below the work the backend did (less some slack: the client's wait, when it is
        // the larger, may overlap the backend's work)
        expect(t.ms).toBeGreaterThanOrEqual(0.8 * cpu - 2);
      }
      expect(
        waited,
        "run-queue delay under six busy processes",
      ).toBeGreaterThan(0);
    } finally {
      for (const h of hogs) h.kill("SIGKILL");
    }
  });
});
