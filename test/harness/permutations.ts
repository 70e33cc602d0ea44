// Races as named permutations, in the spirit of PostgreSQL's isolation specs: sessions (each one
// connection, with an optional setup), named steps (SQL, or a function of the session's
// connection), and a permutation: the order in which the steps run, one at a time.
//
//   const races = permutations(() => db().url, {
//     s1: { steps: { begin: "begin", classify: (sql) => ..., rollback: "rollback" } },
//     s2: { steps: { begin: "begin", delete: (sql) => ..., rollback: "rollback" } },
//   });
//   races.permutation("delete waits for classify",
//     ["s1 begin", "s1 classify", "s2 begin", "s2 delete (blocks)", "s1 rollback", "s2 done", "s2 rollback"],
//     (outcome) => expect(outcome.result["s2 delete"]).toEqual(...));
//
// A step marked "(blocks)" must block: it is started, and the permutation goes on once the
// server shows its session waiting for a lock (pg_blocking_pids not empty); what it waited for
// is recorded. Any other step must finish without ever waiting for a lock. "<session> done"
// waits for that session's blocked step to finish. Step names are "<session> <step>".
import postgres from "postgres";
import { test } from "vitest";
import { sleep } from "./fixtures.ts";

/** A step: SQL run as is, or a function of the session's connection. */
export type Step = string | ((sql: postgres.Sql) => Promise<unknown>);

export interface SessionSpec {
  /** Run in order when the session connects, before the permutation. */
  setup?: Step[];
  steps: Record<string, Step>;
}

export interface Wait {
  /** The sessions it waited for. */
  blockedBy: string[];
  /** The locks it asked for and was not granted: "relation AccessShareLock on app.tenant_overview". */
  locks: string[];
}

export interface Outcome {
  /** What each step returned (rows for SQL), by "<session> <step>"; steps that failed are absent. */
  result: Record<string, unknown>;
  /** The SQLSTATE (or message) of each step that failed. */
  error: Record<string, string>;
  /** What each step that blocked waited for. */
  waits: Record<string, Wait>;
  /**
   * The steps in the order the client saw them finish. A blocked step and the step that freed
   * it finish together: their order here is a race.
   */
  finished: string[];
}

/** How long a step may take, and how long a "(blocks)" step has to show that it waits. */
const STEP_TIMEOUT_MS = 30_000;

const BLOCKS = /\s*\(blocks\)$/;

interface Session {
  name: string;
  sql: postgres.Sql;
  pid: number;
  pending?: { step: string; done: Promise<void> };
}

function run(session: Session, step: Step): Promise<unknown> {
  // .then sends the query now (postgres.js queries are lazy)
  return typeof step === "string"
    ? session.sql.unsafe(step).then((rows) => rows)
    : step(session.sql);
}

async function waitOf(
  monitor: postgres.Sql,
  session: Session,
  sessions: Session[],
): Promise<Wait | undefined> {
  const [row] = await monitor<{ blockers: number[]; locks: string[] }[]>`
    select pg_blocking_pids(${session.pid}) as blockers,
           array(select l.locktype || ' ' || l.mode || ' on ' || coalesce(l.relation::regclass::text, '?')
                 from pg_locks l where l.pid = ${session.pid} and not l.granted) as locks`;
  if (!row || row.blockers.length === 0) return undefined;
  return {
    blockedBy: row.blockers.map(
      (pid) => sessions.find((s) => s.pid === pid)?.name ?? `pid ${pid}`,
    ),
    locks: row.locks,
  };
}

/** Runs the steps of `order` one by one (see the file's comment) and returns what happened. */
export async function runPermutation(
  url: string,
  specs: Record<string, SessionSpec>,
  order: string[],
): Promise<Outcome> {
  const outcome: Outcome = { result: {}, error: {}, waits: {}, finished: [] };
  const monitor = postgres(url, { max: 1, onnotice: () => {} });
  const sessions: Session[] = [];
  try {
    for (const [name, spec] of Object.entries(specs)) {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const [me] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
      sessions.push({ name, sql, pid: me!.pid });
      for (const step of spec.setup ?? []) await run(sessions.at(-1)!, step);
    }
    for (const entry of order) {
      const blocks = BLOCKS.test(entry);
      const label = entry.replace(BLOCKS, "");
      const [name, ...rest] = label.split(" ");
      const stepName = rest.join(" ");
      const session = sessions.find((s) => s.name === name);
      if (!session)
        throw new Error(`permutation: no session ${name} (in "${entry}")`);
      if (stepName === "done") {
        if (!session.pending)
          throw new Error(
            `permutation: "${entry}", but ${name} has no blocked step`,
          );
        await withTimeout(
          session.pending.done,
          `${session.pending.step} to finish`,
        );
        session.pending = undefined;
        continue;
      }
      if (session.pending)
        throw new Error(
          `permutation: "${entry}" while ${session.pending.step} is still blocked`,
        );
      const step = specs[name!]!.steps[stepName];
      if (step === undefined)
        throw new Error(
          `permutation: no step "${stepName}" in session ${name}`,
        );
      let settled = false;
      const done = run(session, step)
        .then(
          (value) => void (outcome.result[label] = value),
          (error: { code?: string; message?: string }) =>
            void (outcome.error[label] = error.code ?? String(error.message)),
        )
        .finally(() => {
          settled = true;
          outcome.finished.push(label);
        });
      const started = performance.now();
      while (!settled) {
        const wait = await waitOf(monitor, session, sessions);
        if (wait) {
          outcome.waits[label] = wait;
          if (blocks) break;
          throw new Error(
            `permutation: "${label}" blocked, waiting for ${wait.blockedBy.join(", ")} (${wait.locks.join("; ")})`,
          );
        }
        if (performance.now() - started > STEP_TIMEOUT_MS)
          throw new Error(
            `permutation: "${label}" neither finished nor waited for a lock`,
          );
        await Promise.race([done, sleep(5)]);
      }
      if (blocks && settled)
        throw new Error(
          `permutation: "${label}" was expected to block, and finished`,
        );
      if (blocks) session.pending = { step: label, done };
    }
    const stillBlocked = sessions
      .filter((s) => s.pending)
      .map((s) => s.pending!.step);
    if (stillBlocked.length > 0)
      throw new Error(
        `permutation: ended with ${stillBlocked.join(", ")} still blocked`,
      );
    return outcome;
  } finally {
    // Ending a connection rolls back its open transaction and releases what it held.
    await Promise.all(
      [monitor, ...sessions.map((s) => s.sql)].map((c) =>
        c.end({ timeout: 5 }),
      ),
    );
  }
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`permutation: timed out waiting for ${what}`)),
      STEP_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sessions for a group of permutations; `permutation(name, order, check)` then declares one
 * vitest test that runs the order on fresh connections and hands the outcome to `check`.
 * `url` is read when the test runs (the test database is made in beforeAll).
 */
export function permutations(
  url: () => string,
  specs: Record<string, SessionSpec> | (() => Record<string, SessionSpec>),
) {
  return {
    permutation(
      name: string,
      order: string[],
      check: (outcome: Outcome) => void | Promise<void>,
    ): void {
      test(`${name}: ${order.join(", ")}`, async () => {
        const outcome = await runPermutation(
          url(),
          typeof specs === "function" ? specs() : specs,
          order,
        );
        await check(outcome);
      });
    },
  };
}
