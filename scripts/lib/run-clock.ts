// Time that survives a busy machine (issue 13, item 5; docs/budgets.md "Time on a busy
// machine"). A call's wall time on a loaded machine is mostly waiting: with a dozen runnable
// processes on 2 cores, the server backend and this process each wait their turn for a CPU
// before every step, and a 20 ms purge batch took 80 to 140 ms of wall time. Linux counts that
// wait per process: the second field of /proc/<pid>/schedstat is the time it spent runnable
// but not running (run-queue delay, ns). So a call is timed as
//
//   wall time − max(run-queue delay of the server backend, run-queue delay of this process)
//
// over the same interval: close to what the call would take had each of the two got a CPU
// whenever it was ready. The larger of the two, not their sum: the two waits may overlap (this
// process may be runnable for work of its own while the backend waits), and a sum would then
// subtract time twice, below what the call really cost; the larger one never exceeds the
// waiting that held the call up (test/run-clock.test.ts). Everything else stays in: the backend's CPU, I/O and lock waits, the client's
// own work, the round trips. Not CPU time alone, which would drop I/O and lock waits, and not
// a minimum over rounds, which a steadily loaded machine never lets down.
//
//   const clock = await runClock(sql);              // sql: ONE connection (max: 1, or reserved)
//   const { ms, wallMs, waitMs } = await clock.time(() => sql`select ...`);
//
// The limit: Linux books a wait when the process next gets the CPU, so a wait that began just
// before the interval may be subtracted within it (up to about 20 ms at a load of 20 on 2
// cores): the result is never taken below the backend's CPU time in the interval, but a call
// that mostly waits for something else (a sleep, a lock) may come out that much short.
//
// Only for a server on this machine (its backend's /proc entry must be ours to read, and be
// that backend: checked by its command line); otherwise, and off Linux, `corrected` is false
// and ms is the wall time.
import { readFileSync } from "node:fs";
import type postgres from "postgres";

/** A point in time with the run-queue delays so far (ms). */
export interface Mark {
  at: number;
  backendWait: number;
  backendCpu: number;
  selfWait: number;
}

export interface Timed {
  /** Wall time minus the run-queue delays (= wallMs when not corrected). */
  ms: number;
  wallMs: number;
  /** The run-queue delay subtracted (the larger of the backend's and this process's). */
  waitMs: number;
}

export interface RunClock {
  /** Whether run-queue delays are subtracted. */
  readonly corrected: boolean;
  mark(): Mark;
  since(mark: Mark): Timed;
  /** From one mark to a later one. */
  between(from: Mark, to: Mark): Timed;
  time(work: () => PromiseLike<unknown>): Promise<Timed>;
}

/** CPU time and run-queue delay of a process so far, ms; undefined when unreadable. */
function schedMs(
  pid: number | "self",
): { cpu: number; wait: number } | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ");
    const cpu = Number(fields[0]);
    const wait = Number(fields[1]);
    return Number.isFinite(cpu) && Number.isFinite(wait)
      ? { cpu: cpu / 1e6, wait: wait / 1e6 }
      : undefined;
  } catch {
    return undefined;
  }
}
const runQueueMs = (pid: number | "self") => schedMs(pid)?.wait;

/** Whether /proc/<pid> is the backend of this database (a server in another PID namespace would show some other process). */
function isOurBackend(pid: number, database: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return (
      cmdline.startsWith("postgres: ") && cmdline.split(" ").includes(database)
    );
  } catch {
    return false;
  }
}

function clock(backend: number | undefined): RunClock {
  const mark = (): Mark => {
    const at = performance.now();
    const b = backend === undefined ? undefined : schedMs(backend);
    return {
      at,
      backendWait: b?.wait ?? 0,
      backendCpu: b?.cpu ?? 0,
      selfWait: backend === undefined ? 0 : (runQueueMs("self") ?? 0),
    };
  };
  // Linux books a wait when the task gets the CPU, so a delta may hold waiting that began
  // before the interval (a backend still finishing the previous call): what is left is never
  // taken below the backend's own CPU time in the interval, which is work the call waited for.
  const between = (a: Mark, b: Mark): Timed => {
    const wallMs = b.at - a.at;
    if (backend === undefined) return { ms: wallMs, wallMs, waitMs: 0 };
    const wait = Math.max(
      0,
      b.backendWait - a.backendWait,
      b.selfWait - a.selfWait,
    );
    const floor = Math.min(wallMs, Math.max(0, b.backendCpu - a.backendCpu));
    const ms = Math.max(floor, wallMs - wait);
    return { ms, wallMs, waitMs: wallMs - ms };
  };
  const since = (m: Mark): Timed => {
    // the delays are read inside the interval, the clock last
    const b = backend === undefined ? undefined : schedMs(backend);
    const end: Mark = {
      at: 0,
      backendWait: b?.wait ?? m.backendWait,
      backendCpu: b?.cpu ?? m.backendCpu,
      selfWait: backend === undefined ? 0 : (runQueueMs("self") ?? m.selfWait),
    };
    end.at = performance.now();
    return between(m, end);
  };
  return {
    corrected: backend !== undefined,
    mark,
    since,
    between,
    async time(work) {
      const m = mark();
      await work();
      return since(m);
    },
  };
}

/**
 * A clock for the calls made on `sql`, which must be one connection (a client with max: 1, or a
 * reserved connection): its backend is the one whose run-queue delay is subtracted.
 */
export async function runClock(
  sql: postgres.Sql | postgres.ReservedSql,
): Promise<RunClock> {
  const [row] = await sql<{ pid: number; db: string }[]>`
    select pg_backend_pid() as pid, current_database() as db`;
  const pid = row?.pid;
  const ok =
    pid !== undefined &&
    runQueueMs("self") !== undefined &&
    runQueueMs(pid) !== undefined &&
    isOurBackend(pid, row!.db);
  return clock(ok ? pid : undefined);
}

/** The wall clock only (ms = wall time). */
export const WALL_CLOCK: RunClock = clock(undefined);
