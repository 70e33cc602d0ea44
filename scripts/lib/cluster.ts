// The throwaway local cluster: initdb into a fresh temp folder, a free port and a unix
// socket, the preload settings, removed again at exit. The default server of querybudget.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { elapsed, log } from "./log.ts";
import {
  MAIN_DATABASE,
  PG_BIN,
  PRELOAD_LIBRARIES,
  type Server,
} from "./server-contract.ts";
import {
  confLines,
  IMAGE_SETTINGS,
  TEST_ONLY_SPEED,
  type ConfValue,
} from "./server-settings.ts";

/** The database every entry point works in (server-contract.ts); re-exported for old imports. */
export { MAIN_DATABASE };

/** Where the local cluster listens, then the settings it shares with the image, then the test-only speed settings. */
function serverSettings(
  port: number,
  socketDir: string,
  preload: readonly string[],
): Record<string, ConfValue> {
  return {
    listen_addresses: "'127.0.0.1'",
    port,
    unix_socket_directories: `'${socketDir}'`,
    ...IMAGE_SETTINGS,
    shared_preload_libraries: `'${preload.join(",")}'`,
    ...TEST_ONLY_SPEED,
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** initdb and postgres refuse to run as root: then they run as the postgres OS user. */
export function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) =>
    Number(
      spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim(),
    );
  const uid = id("-u");
  if (!Number.isInteger(uid) || uid <= 0) {
    throw new Error(
      "running as root, but there is no 'postgres' OS user to run the server as (apt-get install postgresql-15 creates it)",
    );
  }
  return { uid, gid: id("-g") };
}

export interface LocalClusterOptions {
  /**
   * postgresql.conf settings written over the defaults above, as they would appear in the file
   * (strings quoted: `"'on'"` or `"on"` for a bare word). The fault tests start a cluster of
   * their own with `synchronous_commit: "on"`, so that a commit acknowledged before a crash is
   * one recovery must bring back.
   */
  settings?: Record<string, string | number>;
  /**
   * Libraries loaded at start, before ours (PRELOAD_LIBRARIES). A Citus node puts `citus`
   * here: Citus must come first in shared_preload_libraries (scripts/lib/citus-cluster.ts).
   */
  preloadFirst?: string[];
  /** The temp folder's name starts with this (default `querybudget-pg-`): a Citus node's says which node it is. */
  label?: string;
}

/** A throwaway cluster, plus what the fault tests need: crash it, start it again on its data. */
export interface LocalCluster extends Server {
  kind: "local";
  dataDir: string;
  /** What postgres wrote to stderr, over every start. */
  serverLog: () => string;
  /** The postmaster's process id (changes with every restart). */
  pid(): number;
  /**
   * A crash: SIGKILL to the postmaster and to every process it started, all at once (nothing
   * is flushed, no shutdown checkpoint). Resolves when the postmaster is gone.
   */
  kill(): Promise<void>;
  /** Starts postgres again on the same data folder (crash recovery if it was killed). */
  restart(): Promise<void>;
}

/** Process ids whose parent is `pid` (Linux /proc). */
function childProcesses(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return children;
}

export async function startLocalCluster(
  options: LocalClusterOptions = {},
): Promise<LocalCluster> {
  const started = performance.now();
  const user = serverUser();
  // Under /tmp, not under the caller's home, so the postgres user can reach it.
  const dir = mkdtempSync(join(tmpdir(), options.label ?? "querybudget-pg-"));
  const dataDir = join(dir, "data");
  const socketDir = dir;
  if (user) {
    chmodSync(dir, 0o700);
    chownSync(dir, user.uid, user.gid);
  }
  const asServerUser = user ? { uid: user.uid, gid: user.gid } : {};
  const initdb = spawnSync(
    join(PG_BIN, "initdb"),
    [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ],
    { encoding: "utf8", ...asServerUser, env: { ...process.env, HOME: dir } },
  );
  if (initdb.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed:\n${initdb.stderr}`);
  }
  const afterInitdb = performance.now();
  const port = await freePort();
  const conf = confLines({
    ...serverSettings(port, socketDir, [
      ...(options.preloadFirst ?? []),
      ...PRELOAD_LIBRARIES,
    ]),
    ...options.settings,
  }).join("\n");
  writeFileSync(
    join(dataDir, "postgresql.auto.conf"),
    `# written by querybudget for a throwaway test cluster\n${conf}\n`,
  );
  if (user)
    chownSync(join(dataDir, "postgresql.auto.conf"), user.uid, user.gid);

  const logFile = join(dir, "server.log");
  let serverLog = "";
  const startPostgres = (): ChildProcess => {
    const proc = spawn(join(PG_BIN, "postgres"), ["-D", dataDir], {
      ...asServerUser,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, HOME: dir },
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      serverLog += chunk.toString();
      if (serverLog.length > 1_000_000) serverLog = serverLog.slice(-500_000);
    });
    return proc;
  };
  let child: ChildProcess = startPostgres();
  const running = () => child.exitCode === null && child.signalCode === null;

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitUntilReady(socketDir, port, child, () => serverLog);
  createMainDatabase(socketDir, port);
  log(
    `throwaway cluster on port ${port} (socket ${socketDir}) ready ${elapsed(afterInitdb)} after initdb, ${elapsed(started)} in all`,
  );

  let stopped = false;
  const removeNow = () => {
    if (stopped) return;
    stopped = true;
    if (running()) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  // A sync fallback: whatever way the process ends, the temp folder goes with it.
  process.once("exit", removeNow);
  return {
    kind: "local",
    url: url.replace(/\/postgres$/, `/${MAIN_DATABASE}`),
    adminUrl: url,
    socketDir,
    logFile,
    dataDir,
    serverLog: () => serverLog,
    pid: () => child.pid ?? -1,
    async kill() {
      if (stopped || !running()) return;
      const postmaster = child.pid;
      if (postmaster === undefined) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const backends = childProcesses(postmaster);
      process.kill(postmaster, "SIGKILL");
      for (const pid of backends) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
      await exited;
      // The backends must be gone too before a new postmaster may attach to the data folder.
      const deadline = performance.now() + 10_000;
      while (
        backends.some((pid) => existsProcess(pid)) &&
        performance.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restart() {
      if (stopped)
        throw new Error(
          "the cluster was stopped and removed; it cannot be restarted",
        );
      if (running())
        throw new Error("postgres is still running; kill() it first");
      child = startPostgres();
      await waitUntilReady(socketDir, port, child, () => serverLog);
    },
    async stop() {
      if (stopped) return;
      if (running()) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGINT"); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      removeNow();
      process.removeListener("exit", removeNow);
    },
  };
}

/** The process exists and is not a zombie (a zombie holds no shared memory). */
function existsProcess(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return (
      stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
    );
  } catch {
    return false;
  }
}

async function waitUntilReady(
  socketDir: string,
  port: number,
  child: ChildProcess,
  serverLog: () => string,
): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`postgres exited during start-up:\n${serverLog()}`);
    const r = spawnSync(join(PG_BIN, "pg_isready"), [
      "-q",
      "-h",
      socketDir,
      "-p",
      String(port),
    ]);
    if (r.status === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `postgres did not accept connections within 30 s:\n${serverLog()}`,
  );
}

function createMainDatabase(socketDir: string, port: number): void {
  const r = spawnSync(
    join(PG_BIN, "createdb"),
    ["-h", socketDir, "-p", String(port), "-U", "postgres", MAIN_DATABASE],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0)
    throw new Error(`createdb ${MAIN_DATABASE} failed: ${r.stderr}`);
}
